//! The statistics file: the monthly tables ([`Stats`]) the embedded store tabled from its
//! stored complaints, written beside them at each import so that opening the store does not
//! read a million complaints again. It names the digest of the complaints file it was tabled
//! from; a reader uses it only while that file still has that digest, and falls back to the
//! complaints otherwise.
//!
//! Layout (little-endian): `ATLSTAT3`; the source (u16 length, UTF-8: the complaints file's
//! digest and the handling scale's); first and last month (i32, `i32::MIN` for none); total
//! and unmatched (u64); months per table `n` (u32); then four tables — compounds (n × 10
//! categories), buildings, units, the compounds' handling (n × closed, rated, satisfied) —
//! each a count (u32) and per entry in id order its id (i64) and its u32 counts; the
//! buildings' and units' only for their months with complaints (ATLSTAT5): the number of such
//! months (u16) and each one's index (u16) and count (u32), in month order (dense, they were
//! two thirds of the full city's 104 MB file);
//! then the compounds' hours: a count (u32) and per compound in id order its id (i64), its
//! number of entries (u32) and each entry's month index (u16), response and closing hours
//! (f32, NaN for none), in month order; then the compounds' repeats (ATLSTAT4): the number of
//! compounds, of places and of entries (u32 each), and per compound in id order its id (i64),
//! its number of places (u32), each place's kind (u8: 0 building, 1 unit) and id (i64) in
//! order, its number of entries (u32) and each entry's month index (u16), place index (u16),
//! category (u8) and days since the previous complaint of its place and category (u8, 255 for
//! none), in order; then the compounds' clock (when each complaint came):
//! a count (u32) and per compound in id order its id (i64), its number of entries (u32) and
//! each entry's month index (u16), category (u8, its place in the category list) and hour of
//! the week (u8, 0–167), in order; last, the CRC-32 of all that precedes it (u32). A file of
//! an older layout (`ATLSTAT1`, `ATLSTAT2`: no clock; `ATLSTAT3`: no repeats; `ATLSTAT4`: the
//! buildings' and units' months dense) is not read: the
//! store says so and tables its complaints again.

use crate::model::clock::{Clock, Entry, SLOTS};
use crate::model::handling::Times;
use crate::model::repeat::{Place, Repeats};
use crate::model::stats::{Counts, Rowed, Sparse, SparseBuilder, Stats, Table};
use crate::model::Month;
use bytes::{Buf, BufMut};
use std::path::Path;

const MAGIC: &[u8; 8] = b"ATLSTAT5";

/// What a statistics file says it was tabled from: the complaints file's digest and the
/// handling scale's fingerprint.
pub fn source(complaints: &Path, scale: &crate::model::handling::Scale) -> std::io::Result<String> {
    Ok(format!(
        "{} {}",
        super::digest::of_file(complaints)?,
        scale.fingerprint()
    ))
}

/// Writes `stats`, tabled from the complaints file whose digest is `source`, to `path`
/// (temporary file, fsync, rename).
pub fn write(path: &Path, stats: &Stats, source: &str) -> std::io::Result<()> {
    let bytes = encode(stats, source);
    let tmp = path.with_extension("bin.tmp");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Reads a statistics file: the tables and the digest of the complaints they came from.
/// Any damage (short, wrong magic, bad checksum, inconsistent tables) is an error naming it.
pub fn read(path: &Path) -> Result<(Stats, String), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    decode(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn encode(stats: &Stats, source: &str) -> Vec<u8> {
    let n = stats.months();
    let mut out = Vec::with_capacity(
        64 + stats.compound.len() * (8 + 40 * n)
            + (stats.building.len() + stats.unit.len()) * (8 + 4 * n),
    );
    out.put_slice(MAGIC);
    out.put_u16_le(source.len() as u16);
    out.put_slice(source.as_bytes());
    for m in [stats.first, stats.last] {
        out.put_i32_le(m.map_or(i32::MIN, |m| m.0));
    }
    out.put_u64_le(stats.total);
    out.put_u64_le(stats.unmatched);
    out.put_u32_le(n as u32);
    /// A table's rows by id, each with its counts month by month (dense or sparse alike).
    fn table<const K: usize, I: Iterator<Item = [u32; K]>>(
        out: &mut Vec<u8>,
        t: &impl Rowed,
        monthly: impl Fn(i64) -> I,
    ) {
        let mut ids: Vec<i64> = t.ids().collect();
        ids.sort_unstable();
        out.put_u32_le(ids.len() as u32);
        for id in ids {
            out.put_i64_le(id);
            for month in monthly(id) {
                for c in month {
                    out.put_u32_le(c);
                }
            }
        }
    }
    table(&mut out, &stats.compound, |id| stats.compound.monthly(id));
    encode_sparse(&mut out, &stats.building);
    encode_sparse(&mut out, &stats.unit);
    table(&mut out, &stats.handling, |id| stats.handling.monthly(id));
    let mut ids: Vec<i64> = stats.times.ids().collect();
    ids.sort_unstable();
    out.put_u32_le(ids.len() as u32);
    for id in ids {
        let e = stats.times.entries_of(id);
        out.put_i64_le(id);
        out.put_u32_le(e.len() as u32);
        for &(m, r, c) in e {
            out.put_u16_le(m);
            out.put_f32_le(r);
            out.put_f32_le(c);
        }
    }
    encode_repeats(&mut out, &stats.repeats);
    let mut ids: Vec<i64> = stats.clock.ids().collect();
    ids.sort_unstable();
    out.put_u32_le(ids.len() as u32);
    for id in ids {
        let e = stats.clock.entries_of(id);
        out.put_i64_le(id);
        out.put_u32_le(e.len() as u32);
        for x in e {
            out.put_u16_le(x.month);
            out.put_u8(x.category);
            out.put_u8(x.slot);
        }
    }
    let crc = crc32fast::hash(&out);
    out.put_u32_le(crc);
    out
}

/// A sparse table's rows by id, each with its months that have complaints.
fn encode_sparse(out: &mut Vec<u8>, t: &Sparse) {
    let mut ids: Vec<i64> = t.ids().collect();
    ids.sort_unstable();
    out.put_u32_le(ids.len() as u32);
    for id in ids {
        out.put_i64_le(id);
        let months: Vec<(u16, u32)> = t
            .monthly(id)
            .enumerate()
            .filter(|(_, [c])| *c > 0)
            .map(|(i, [c])| (i as u16, c))
            .collect();
        out.put_u16_le(months.len() as u16);
        for (i, c) in months {
            out.put_u16_le(i);
            out.put_u32_le(c);
        }
    }
}

/// The repeats section: its counts, then each compound's places and entries.
fn encode_repeats(out: &mut Vec<u8>, r: &Repeats) {
    let mut ids: Vec<i64> = r.ids().collect();
    ids.sort_unstable();
    let places: usize = ids.iter().map(|id| r.of(*id).0.len()).sum();
    out.put_u32_le(ids.len() as u32);
    out.put_u32_le(places as u32);
    out.put_u32_le(r.len() as u32);
    for id in ids {
        let (p, e) = r.of(id);
        out.put_i64_le(id);
        out.put_u32_le(p.len() as u32);
        for x in p {
            let (kind, id) = match *x {
                Place::Building(b) => (0, b),
                Place::Unit(u) => (1, u),
            };
            out.put_u8(kind);
            out.put_i64_le(id);
        }
        out.put_u32_le(e.len() as u32);
        for x in e {
            out.put_u16_le(x.month);
            out.put_u16_le(x.place);
            out.put_u8(x.category);
            out.put_u8(x.gap);
        }
    }
}

/// A section's next compound id: strictly after the one before (`prev`, which it becomes).
fn next_id(body: &mut &[u8], prev: &mut Option<i64>, what: &str) -> Result<i64, String> {
    let id = body.try_get_i64_le().map_err(short(what))?;
    if prev.is_some_and(|p| p >= id) {
        return Err(format!("{what}: ids out of order at {id}"));
    }
    *prev = Some(id);
    Ok(id)
}

/// What was being read when the bytes ran out.
fn short(what: &str) -> impl Fn(bytes::TryGetError) -> String + '_ {
    move |_| format!("truncated while reading {what}")
}

/// Reads a table of `n` months of `K` counts per entry, ids strictly increasing, handing each
/// entry's id and the bytes at its counts to `row` (which reads them all).
fn each_row<const K: usize>(
    body: &mut &[u8],
    n: usize,
    what: &str,
    mut row: impl FnMut(i64, &mut &[u8]),
) -> Result<(), String> {
    let len = body.try_get_u32_le().map_err(short(what))? as usize;
    // Each entry takes at least its id: a damaged count cannot make a huge allocation.
    if len > body.remaining() / 8 {
        return Err(format!("{what}: {len} entries cannot fit in the file"));
    }
    let mut prev = None;
    for _ in 0..len {
        let id = next_id(body, &mut prev, what)?;
        if body.remaining() < n * K * 4 {
            return Err(format!("truncated while reading {what}"));
        }
        row(id, body);
    }
    Ok(())
}

/// A section of entries in id order: a count (u32), then per entry its id (i64), its number of
/// items (u32, or u16 when not `wide`) and that many items of `item` bytes, which `entry`
/// reads. The count is checked against what the file holds (an entry takes at least `least`
/// bytes) and each entry's items against what remains, so damage cannot make a huge
/// allocation or a read past the end.
fn each_entry(
    body: &mut &[u8],
    what: &str,
    (least, item, wide): (usize, usize, bool),
    mut entry: impl FnMut(i64, usize, &mut &[u8]) -> Result<(), String>,
) -> Result<(), String> {
    let len = body.try_get_u32_le().map_err(short(what))? as usize;
    if len > body.remaining() / least {
        return Err(format!("{what}: {len} entries cannot fit in the file"));
    }
    let mut prev = None;
    for _ in 0..len {
        let id = next_id(body, &mut prev, what)?;
        let k = if wide {
            body.try_get_u32_le().map_err(short(what))? as usize
        } else {
            usize::from(body.try_get_u16_le().map_err(short(what))?)
        };
        if body.remaining() < k * item {
            return Err(format!("truncated while reading {what}"));
        }
        entry(id, k, body)?;
    }
    Ok(())
}

/// One table of `n` months of one count per entry, each entry's months with complaints only,
/// as a [`Sparse`] table (made row by row: the dense counts are never all in memory).
fn sparse(body: &mut &[u8], n: usize, what: &str) -> Result<Sparse, String> {
    let mut b = SparseBuilder::new(n);
    let mut counts = vec![0u32; n];
    each_entry(body, what, (10, 6, false), |id, k, body| {
        counts.fill(0);
        let mut last = None;
        for _ in 0..k {
            let i = usize::from(body.get_u16_le());
            let c = body.get_u32_le();
            if i >= n || last.is_some_and(|l| i <= l) {
                return Err(format!(
                    "{what}: entry {id}'s months are out of order or beyond the {n} months"
                ));
            }
            counts[i] = c;
            last = Some(i);
        }
        b.push(id, counts.iter().copied());
        Ok(())
    })?;
    Ok(b.build())
}

/// One table of `n` months of `K` counts per entry.
fn table<const K: usize>(body: &mut &[u8], n: usize, what: &str) -> Result<Table<K>, String> {
    let mut counts = Counts::<K>::new(n);
    each_row::<K>(body, n, what, |id, body| {
        let r = counts.row(id);
        for i in 0..n {
            counts.set(r, i, std::array::from_fn(|_| body.get_u32_le()));
        }
    })?;
    Ok(counts.into_table())
}

/// The compounds' hours: ids strictly increasing, entries in month order inside `n` months.
fn times(body: &mut &[u8], n: usize) -> Result<Times, String> {
    const WHAT: &str = "the hours";
    let mut t = Times::default();
    each_entry(body, WHAT, (12, 10, true), |id, k, body| {
        let mut entries = Vec::with_capacity(k);
        for _ in 0..k {
            let e = (body.get_u16_le(), body.get_f32_le(), body.get_f32_le());
            if usize::from(e.0) >= n || entries.last().is_some_and(|l: &(u16, f32, f32)| l.0 > e.0)
            {
                return Err(format!(
                    "{WHAT}: compound {id} has a month out of order or range"
                ));
            }
            entries.push(e);
        }
        t.push(id, entries);
        Ok(())
    })?;
    Ok(t)
}

/// A compound's places in the repeats section: `k` of them, strictly increasing.
fn places(body: &mut &[u8], id: i64, k: usize) -> Result<Vec<Place>, String> {
    if body.remaining() < k * 9 {
        return Err("truncated while reading the repeats".into());
    }
    let mut places: Vec<Place> = Vec::with_capacity(k);
    for _ in 0..k {
        let p = match (body.get_u8(), body.get_i64_le()) {
            (0, b) => Place::Building(b),
            (1, u) => Place::Unit(u),
            (kind, _) => {
                return Err(format!(
                    "the repeats: compound {id} has a place of kind {kind}"
                ))
            }
        };
        if places.last().is_some_and(|l| *l >= p) {
            return Err(format!(
                "the repeats: compound {id} has places out of order"
            ));
        }
        places.push(p);
    }
    Ok(places)
}

/// The compounds' repeats: ids strictly increasing, places in order, entries in order inside
/// `n` months, 10 categories and the compound's places.
fn repeats(body: &mut &[u8], n: usize) -> Result<Repeats, String> {
    use crate::model::repeat::Entry as R;
    const WHAT: &str = "the repeats";
    let len = body.try_get_u32_le().map_err(short(WHAT))? as usize;
    let places_n = body.try_get_u32_le().map_err(short(WHAT))? as usize;
    let entries_n = body.try_get_u32_le().map_err(short(WHAT))? as usize;
    if len * 16 + places_n * 9 + entries_n * 6 > body.remaining() {
        return Err(format!("{WHAT}: {len} compounds cannot fit in the file"));
    }
    let mut r = Repeats::with_capacity(places_n, entries_n);
    let mut prev = None;
    for _ in 0..len {
        let id = next_id(body, &mut prev, WHAT)?;
        let k = body.try_get_u32_le().map_err(short(WHAT))? as usize;
        let places = places(body, id, k)?;
        let k = body.try_get_u32_le().map_err(short(WHAT))? as usize;
        if body.remaining() < k * 6 {
            return Err(format!("truncated while reading {WHAT}"));
        }
        let mut entries: Vec<R> = Vec::with_capacity(k);
        for _ in 0..k {
            let e = R {
                month: body.get_u16_le(),
                place: body.get_u16_le(),
                category: body.get_u8(),
                gap: body.get_u8(),
            };
            if usize::from(e.month) >= n
                || usize::from(e.category) >= crate::model::Category::ALL.len()
                || usize::from(e.place) >= places.len()
                || entries.last().is_some_and(|l| *l > e)
            {
                return Err(format!(
                    "{WHAT}: compound {id} has an entry out of order or range"
                ));
            }
            entries.push(e);
        }
        r.push(id, places, entries);
    }
    if r.len() != entries_n {
        return Err(format!(
            "{WHAT}: {entries_n} entries announced, {} read",
            r.len()
        ));
    }
    Ok(r)
}

/// The compounds' clock: ids strictly increasing, entries in order inside `n` months, 10
/// categories and 168 hours of the week.
fn clock(body: &mut &[u8], n: usize) -> Result<Clock, String> {
    const WHAT: &str = "the clock";
    // The clock is the last section: what remains is its compounds' ids and counts (12
    // bytes each) and its entries (4 bytes each), so they are allocated once, never doubled.
    let mut peek: &[u8] = body;
    let len = peek.try_get_u32_le().unwrap_or(0) as usize;
    let mut c = Clock::with_capacity(body.remaining().saturating_sub(4 + len * 12) / 4);
    each_entry(body, WHAT, (12, 4, true), |id, k, body| {
        let mut entries: Vec<Entry> = Vec::with_capacity(k);
        for _ in 0..k {
            let e = Entry {
                month: body.get_u16_le(),
                category: body.get_u8(),
                slot: body.get_u8(),
            };
            if usize::from(e.month) >= n
                || usize::from(e.category) >= crate::model::Category::ALL.len()
                || usize::from(e.slot) >= SLOTS
                || entries.last().is_some_and(|l| *l > e)
            {
                return Err(format!(
                    "{WHAT}: compound {id} has an entry out of order or range"
                ));
            }
            entries.push(e);
        }
        c.push(id, entries);
        Ok(())
    })?;
    c.shrink_to_fit();
    Ok(c)
}

fn decode(bytes: &[u8]) -> Result<(Stats, String), String> {
    if bytes.len() < MAGIC.len() + 4 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(if bytes.starts_with(b"ATLSTAT") {
            format!(
                "a statistics file of an older layout ({}; this server reads ATLSTAT5, which keeps the buildings' and units' months sparse)",
                String::from_utf8_lossy(&bytes[..MAGIC.len().min(bytes.len())])
            )
        } else {
            "not a statistics file (no ATLSTAT5 header)".into()
        });
    }
    let (body, mut tail) = bytes.split_at(bytes.len() - 4);
    if crc32fast::hash(body) != tail.get_u32_le() {
        return Err("checksum mismatch (the file is damaged)".into());
    }
    let mut body = &body[MAGIC.len()..];
    let len = body.try_get_u16_le().map_err(short("the source digest"))? as usize;
    if body.remaining() < len {
        return Err("truncated while reading the source digest".into());
    }
    let source = std::str::from_utf8(&body[..len])
        .map_err(|_| "the source digest is not UTF-8".to_string())?
        .to_string();
    body.advance(len);
    let month = |v: i32| (v != i32::MIN).then_some(Month(v));
    let first = month(body.try_get_i32_le().map_err(short("the first month"))?);
    let last = month(body.try_get_i32_le().map_err(short("the last month"))?);
    let total = body.try_get_u64_le().map_err(short("the total"))?;
    let unmatched = body
        .try_get_u64_le()
        .map_err(short("the unmatched count"))?;
    let n = body
        .try_get_u32_le()
        .map_err(short("the number of months"))? as usize;
    let mut stats = Stats {
        first,
        last,
        total,
        unmatched,
        ..Stats::default()
    };
    if n != stats.months() {
        return Err(format!(
            "{n} months per table, but the months given span {}",
            stats.months()
        ));
    }
    stats.compound = table(&mut body, n, "the compound table")?;
    stats.building = sparse(&mut body, n, "the building table")?;
    stats.unit = sparse(&mut body, n, "the unit table")?;
    stats.handling = table(&mut body, n, "the handling table")?;
    stats.times = times(&mut body, n)?;
    stats.repeats = repeats(&mut body, n)?;
    stats.clock = clock(&mut body, n)?;
    if body.has_remaining() {
        return Err(format!("{} bytes left after the tables", body.remaining()));
    }
    Ok((stats, source))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::stats::Fact;
    use crate::model::Category;

    fn sample() -> Stats {
        let mut facts = Vec::new();
        for i in 0..5_000i64 {
            facts.push(Fact {
                month: Month::new(2022, 1).plus((i % 19) as i32),
                category: Category::ALL[(i % 10) as usize],
                compound: (i % 13 != 0).then_some(1_000 + i % 97),
                building: (i % 3 != 0).then_some(50_000 + i % 97),
                unit: (i % 4 == 0).then_some(900_000 + i % 1_201),
                handled: crate::model::handling::Handled {
                    closed: i % 5 != 0,
                    rating: (i % 3 != 1).then_some(i % 7 != 0),
                    response_h: (i % 11 != 0).then_some((i % 50) as f32 / 4.0),
                    closing_h: (i % 5 != 0).then_some((i % 200) as f32),
                },
                slot: (i % 168) as u8,
                day: 738_000 + (i % 29) as i32,
            });
        }
        Stats::from_facts(&facts)
    }

    fn same(a: &Stats, b: &Stats) {
        assert_eq!(
            (a.first, a.last, a.total, a.unmatched),
            (b.first, b.last, b.total, b.unmatched)
        );
        assert_eq!(a.compound, b.compound);
        assert_eq!(a.building, b.building);
        assert_eq!(a.unit, b.unit);
        assert_eq!(a.handling, b.handling);
        assert_eq!(a.times.len(), b.times.len());
        for id in a.times.ids() {
            let (x, y) = (a.times.entries_of(id), b.times.entries_of(id));
            assert_eq!(format!("{x:?}"), format!("{y:?}"), "compound {id}");
        }
        assert_eq!(a.repeats.len(), b.repeats.len());
        for id in a.repeats.ids() {
            assert_eq!(a.repeats.of(id), b.repeats.of(id), "compound {id}");
        }
        assert_eq!(a.clock.len(), b.clock.len());
        for id in a.clock.ids() {
            assert_eq!(
                a.clock.entries_of(id),
                b.clock.entries_of(id),
                "compound {id}"
            );
        }
    }

    #[test]
    fn tables_read_back_as_written() {
        let s = sample();
        assert!(s.compound.len() > 50 && s.unit.len() > 500);
        assert!(s.handling.len() > 50 && s.times.len() > 3_000);
        assert!(s.clock.len() > 4_000);
        assert!(s.repeats.len() > 3_000);
        let days = crate::model::repeat::RepeatRule::default();
        let r = 0..s.months();
        assert!(
            s.repeats
                .ids()
                .map(|id| s.repeats.count(id, &r, None, &days))
                .sum::<u64>()
                > 10
        );
        let bytes = encode(&s, "crc32:0badf00d:123");
        let (back, source) = decode(&bytes).unwrap();
        assert_eq!(source, "crc32:0badf00d:123");
        same(&s, &back);
        // An empty store's tables too.
        let (empty, _) = decode(&encode(&Stats::default(), "")).unwrap();
        same(&Stats::default(), &empty);
    }

    #[test]
    fn any_damage_is_an_error_never_a_panic() {
        let bytes = encode(&sample(), "crc32:0badf00d:123");
        for cut in [0, 3, 8, 20, bytes.len() / 2, bytes.len() - 1] {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for at in [9, 40, bytes.len() / 3, bytes.len() - 2] {
            let mut b = bytes.clone();
            b[at] ^= 0x40;
            let e = decode(&b).unwrap_err();
            assert!(e.contains("checksum"), "{e}");
        }
        // Consistent checksum over inconsistent content: counts that do not fit.
        let mut b = bytes[..bytes.len() - 4].to_vec();
        let n_at = MAGIC.len() + 2 + "crc32:0badf00d:123".len() + 4 + 4 + 8 + 8;
        b[n_at] = b[n_at].wrapping_add(1);
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        assert!(decode(&b).unwrap_err().contains("months"));
    }

    #[test]
    fn a_file_of_the_older_layout_is_refused_by_name() {
        let mut b = encode(&sample(), "x");
        b[..8].copy_from_slice(b"ATLSTAT3");
        let e = decode(&b).unwrap_err();
        assert!(
            e.contains("older layout (ATLSTAT3") && e.contains("ATLSTAT5"),
            "{e}"
        );
    }
}
