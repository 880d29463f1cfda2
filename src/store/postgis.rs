//! The PostGIS store: a sqlx pool with timeouts, migrations from `sql/migrations`, imports by
//! COPY into staging tables and one upsert per layer, all in one transaction.

use super::ComplaintImport;

mod tally;
use super::{Area, Bbox, Change, Hit, ImportReport, Store, StoreError};
use crate::io::Record;
use crate::model::company_list::{CompanyOverride, List};
use crate::model::grade::{Grade, GradeRecord, Override};
use crate::model::handling::{Scale, TimesBuilder};
use crate::model::stats::{Months, Stats};
use crate::model::{
    Building, Category, Company, Complaint, ComplaintContact, Compound, Counts, Dataset, District,
    Layer, Month, Quarter, Street, Unit,
};
use async_trait::async_trait;
use geozero::wkb::Wkb;
use geozero::{CoordDimensions, ToGeo, ToWkb};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::ConnectOptions;
use sqlx::{Executor, Row};
use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Connection settings (the configuration's).
pub use crate::config::PoolSettings;

pub struct PostgisStore {
    pool: PgPool,
    versions: Arc<super::Versions>,
    /// Who this process is in change notices (its own notices are not news to it).
    instance: String,
    /// What `stats` and `geography` read, kept until the data changes.
    stats: super::ByVersion<Stats>,
    geography: super::ByVersion<Dataset>,
    /// The export's words for closed and for each rating.
    scale: Scale,
}

static INSTANCES: AtomicU64 = AtomicU64::new(1);

/// The channel change notices go on.
const CHANNEL: &str = "atlas_changes";

/// Announces a change to the other servers on this database, in the transaction making it
/// (PostgreSQL delivers the notice at commit, and never if it rolls back).
async fn announce(
    tx: &mut sqlx::PgConnection,
    instance: &str,
    compounds: Option<&[i64]>,
) -> Result<(), StoreError> {
    let payload = match compounds {
        Some(ids) if ids.len() <= 500 => {
            serde_json::json!({ "origin": instance, "compounds": ids })
        }
        _ => serde_json::json!({ "origin": instance, "all": true }),
    };
    sqlx::query(include_str!("../../sql/queries/notify_change.sql"))
        .bind(CHANNEL)
        .bind(payload.to_string())
        .execute(tx)
        .await
        .map_err(map_err)?;
    Ok(())
}

/// A text column read as a value by `parse` (a quarter, a grade, a list), or an error naming
/// what the database holds.
fn parsed<T>(
    r: &sqlx::postgres::PgRow,
    column: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    let text: String = r.try_get(column).map_err(map_err)?;
    parse(&text).ok_or_else(|| StoreError::Database(format!("bad {column} `{text}`")))
}

/// Reads a notice: `None` when it is this process's own.
fn parse_notice(payload: &str, instance: &str) -> Option<Change> {
    let v: serde_json::Value = serde_json::from_str(payload).ok()?;
    if v["origin"].as_str() == Some(instance) {
        return None;
    }
    match v["compounds"].as_array() {
        Some(ids) => Some(Change::Compounds(
            ids.iter().filter_map(serde_json::Value::as_i64).collect(),
        )),
        None => Some(Change::All),
    }
}

/// Maps a database error to what it means for a client or an operator.
pub fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => StoreError::Unavailable(e.to_string()),
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default().to_string();
            let detail = db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .and_then(|pg| pg.detail().map(str::to_string))
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            match code.as_str() {
                "23503" | "23505" | "23514" | "23502" | "22P02" | "XX000" => {
                    StoreError::Rejected(format!("{}{detail}", db.message()))
                }
                "57014" => StoreError::Unavailable("statement timed out".into()),
                c if c.starts_with("08") || c.starts_with("57P") || c == "53300" => {
                    StoreError::Unavailable(db.message().to_string())
                }
                _ => StoreError::Sql {
                    message: format!("{}{detail} (SQLSTATE {code})", db.message()),
                    source: e,
                },
            }
        }
        _ => StoreError::Sql {
            message: e.to_string(),
            source: e,
        },
    }
}

impl PostgisStore {
    /// Connects (lazily: the server starts even while the database is away) and sets the
    /// statement timeout on every connection.
    /// Reads the complaints' handling through `scale` (the default: [`Scale::default`]).
    #[must_use]
    pub fn with_scale(mut self, scale: Scale) -> PostgisStore {
        self.scale = scale;
        self
    }

    pub fn connect_lazy(url: &str, settings: &PoolSettings) -> Result<PostgisStore, StoreError> {
        let timeout_ms = settings.statement_timeout.as_millis();
        // Slow statements are ours to log with context (tile z/x/y, import file), not sqlx's.
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("bad database URL: {e}")))?
            .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1));
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    conn.execute(format!("SET statement_timeout = {timeout_ms}").as_str())
                        .await?;
                    Ok(())
                })
            })
            .connect_lazy_with(options);
        Ok(PostgisStore {
            pool,
            versions: Arc::new(super::Versions::default()),
            instance: format!(
                "{}-{}",
                std::process::id(),
                INSTANCES.fetch_add(1, Ordering::SeqCst)
            ),
            stats: super::ByVersion::default(),
            scale: Scale::default(),
            geography: super::ByVersion::default(),
        })
    }

    /// Applies the migrations of `sql/migrations` that are not applied yet.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./sql/migrations")
            .run(&self.pool)
            .await
            .map_err(|e| match e {
                sqlx::migrate::MigrateError::Execute(inner) => map_err(inner),
                other => StoreError::Database(other.to_string()),
            })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The geography, read from every layer table.
    async fn read_geography(&self) -> Result<Dataset, StoreError> {
        let started = std::time::Instant::now();
        let mp = |row: &sqlx::postgres::PgRow,
                  what: &str|
         -> Result<geo_types::MultiPolygon<f64>, StoreError> {
            match geo_of(row.try_get::<&[u8], _>("wkb").map_err(map_err)?, what)? {
                geo_types::Geometry::MultiPolygon(m) => Ok(m),
                geo_types::Geometry::Polygon(p) => Ok(geo_types::MultiPolygon(vec![p])),
                _ => Err(StoreError::Database(format!("{what}: not polygonal"))),
            }
        };
        // Every layer at once, each on its own connection.
        let (districts, streets, companies, compounds, buildings, units) = tokio::try_join!(
            all_rows(
                &self.pool,
                include_str!("../../sql/queries/read_districts.sql"),
                |r| Ok(District {
                    code: r.try_get("code").map_err(map_err)?,
                    name: r.try_get("name").map_err(map_err)?,
                    name_en: r.try_get("name_en").map_err(map_err)?,
                    geom: mp(r, "district")?,
                }),
            ),
            all_rows(
                &self.pool,
                include_str!("../../sql/queries/read_streets.sql"),
                |r| Ok(Street {
                    code: r.try_get("code").map_err(map_err)?,
                    name: r.try_get("name").map_err(map_err)?,
                    district_code: r.try_get("district_code").map_err(map_err)?,
                    kind: r.try_get("kind").map_err(map_err)?,
                    geom: mp(r, "street")?,
                }),
            ),
            all_rows(
                &self.pool,
                include_str!("../../sql/queries/read_companies.sql"),
                |r| {
                    Ok(Company {
                        id: r.try_get("id").map_err(map_err)?,
                        name: r.try_get("name").map_err(map_err)?,
                    })
                }
            ),
            all_rows(
                &self.pool,
                include_str!("../../sql/queries/read_compounds.sql"),
                compound_from,
            ),
            all_rows(
                &self.pool,
                include_str!("../../sql/queries/read_buildings.sql"),
                building_from,
            ),
            all_rows(
                &self.pool,
                include_str!("../../sql/queries/read_units.sql"),
                unit_from,
            ),
        )?;
        let d = Dataset {
            districts,
            streets,
            companies,
            compounds,
            buildings,
            units,
        };
        tracing::debug!(ms = started.elapsed().as_millis() as u64, "geography read");
        Ok(d)
    }

    /// The monthly tables and the figures beside them.
    async fn read_stats(&self) -> Result<Stats, StoreError> {
        let started = std::time::Instant::now();
        // First and last month and the unplaced complaints through their indexes, and the
        // monthly tables, all at once on four connections.
        let categories: Vec<&str> = Category::ALL.iter().map(|c| c.code()).collect();
        let summary = async {
            sqlx::query_as::<_, (Option<chrono::NaiveDate>, Option<chrono::NaiveDate>, i64)>(
                include_str!("../../sql/queries/stats_summary.sql"),
            )
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)
        };
        let trimmed = |w: &[String]| w.iter().map(|x| x.trim().to_string()).collect::<Vec<_>>();
        let handling = async {
            sqlx::query_scalar::<_, Vec<u8>>(HANDLING_MONTHS)
                .bind(trimmed(&self.scale.closed))
                .bind(trimmed(&self.scale.satisfied))
                .bind(trimmed(&self.scale.not_satisfied))
                .fetch_one(&self.pool)
                .await
                .map_err(map_err)
        };
        let ((first, last, unmatched), compound, building, unit, handling, hours, clock, repeats) =
            tokio::try_join!(
                summary,
                monthly_blob(&self.pool, COMPOUND_MONTHS, Some(&categories)),
                monthly_blob(&self.pool, BUILDING_MONTHS, None),
                monthly_blob(&self.pool, UNIT_MONTHS, None),
                handling,
                monthly_blob(&self.pool, COMPLAINT_HOURS, None),
                monthly_blob(&self.pool, COMPOUND_CLOCK, Some(&categories)),
                monthly_blob(&self.pool, COMPOUND_REPEATS, Some(&categories)),
            )?;
        let mut stats = Stats {
            first: first.map(Month::of),
            last: last.map(Month::of),
            unmatched: u64::try_from(unmatched).unwrap_or(0),
            ..Stats::default()
        };
        if let Some(months) = Months::new(stats.first, stats.last) {
            let mut month = MonthOfDays::default();
            let (table, placed) = compound_table(&months, &compound, &mut month);
            stats.compound = table;
            for (blob, table) in [(building, &mut stats.building), (unit, &mut stats.unit)] {
                let mut counts = months.counts::<1>();
                for r in blob.chunks_exact(16) {
                    let (id, m, k) = monthly_row(r, &mut month);
                    months.add(&mut counts, id, m, k);
                }
                *table = counts.into_sparse();
            }
            stats.handling = handling_table(&months, &handling, &mut month);
            stats.times = hours_of(&months, stats.first, &hours, &mut month);
            stats.clock = clock_of(&months, &clock, &mut month);
            stats.repeats = repeats_of(&months, &repeats, &mut month);
            // Every placed complaint is counted once in its compound's table (refresh_stats.sql).
            stats.total = placed + stats.unmatched;
        }
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            clock_bytes = stats.clock.heap_bytes(),
            rss_mb = crate::io::resident_mb(),
            "statistics read"
        );
        Ok(stats)
    }
}

/// Escapes a value for COPY's text format.
fn copy_text(out: &mut String, s: &str) {
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// A PostgreSQL array literal of texts, e.g. `{"金秋小区","x"}`.
fn array_literal(items: &[&str]) -> String {
    let mut s = String::from("{");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push('"');
        for ch in item.chars() {
            if ch == '"' || ch == '\\' {
                s.push('\\');
            }
            s.push(ch);
        }
        s.push('"');
    }
    s.push('}');
    s
}

fn copy_row<T: Record>(out: &mut String, rec: &T) -> Result<(), StoreError> {
    use crate::io::RecordValue as V;
    for ((name, _), v) in T::COLUMNS.iter().zip(rec.values()) {
        match v {
            // `aliases` travels as "a|b" in files and as text[] in PostGIS.
            V::Owned(s) if *name == "aliases" => {
                let items: Vec<&str> = s.split('|').filter(|x| !x.is_empty()).collect();
                copy_text(out, &array_literal(&items));
            }
            V::Str(s) => copy_text(out, s),
            V::Owned(s) => copy_text(out, &s),
            V::Int(n) => {
                let _ = write!(out, "{n}");
            }
            V::Long(n) => {
                let _ = write!(out, "{n}");
            }
        }
        out.push('\t');
    }
    let wkb = rec
        .geometry()
        .to_ewkb(CoordDimensions::xy(), Some(4326))
        .map_err(|e| {
            StoreError::Rejected(format!(
                "{} {}: cannot encode geometry: {e}",
                T::LAYER,
                rec.key()
            ))
        })?;
    out.push_str(&hex::encode(wkb));
    out.push('\n');
    Ok(())
}

/// A layer's records (`body`, COPY text) in a temporary table of the layer's shape.
async fn stage(conn: &mut PgConnection, layer: Layer, body: Vec<String>) -> Result<(), StoreError> {
    let t = layer.name();
    conn.execute(
        format!("CREATE TEMP TABLE stage_{t} (LIKE {t} INCLUDING DEFAULTS) ON COMMIT DROP")
            .as_str(),
    )
    .await
    .map_err(map_err)?;
    copy_in(conn, &format!("COPY stage_{t} FROM STDIN"), body).await
}

/// Runs a `COPY … FROM STDIN` statement with `body`'s text, chunk by chunk.
async fn copy_in(
    conn: &mut PgConnection,
    statement: &str,
    body: impl IntoIterator<Item = String>,
) -> Result<(), StoreError> {
    let mut copy = conn.copy_in_raw(statement).await.map_err(map_err)?;
    for chunk in body {
        copy.send(chunk.into_bytes()).await.map_err(map_err)?;
    }
    copy.finish().await.map_err(map_err)?;
    Ok(())
}

fn upsert_sql(layer: Layer) -> &'static str {
    match layer {
        Layer::Districts => include_str!("../../sql/queries/upsert_districts.sql"),
        Layer::Streets => include_str!("../../sql/queries/upsert_streets.sql"),
        Layer::Companies => include_str!("../../sql/queries/upsert_companies.sql"),
        Layer::Compounds => include_str!("../../sql/queries/upsert_compounds.sql"),
        Layer::Buildings => include_str!("../../sql/queries/upsert_buildings.sql"),
        Layer::Units => include_str!("../../sql/queries/upsert_units.sql"),
    }
}

/// Encodes records as COPY text in chunks of about 1 MiB.
fn encode<T: Record>(records: &[T]) -> Result<Vec<String>, StoreError> {
    let mut chunks = Vec::new();
    let mut cur = String::with_capacity(1 << 20);
    for r in records {
        copy_row(&mut cur, r)?;
        if cur.len() > (1 << 20) {
            chunks.push(std::mem::replace(&mut cur, String::with_capacity(1 << 20)));
        }
    }
    if !cur.is_empty() {
        chunks.push(cur);
    }
    Ok(chunks)
}

fn geo_of(wkb: &[u8], what: &str) -> Result<geo_types::Geometry<f64>, StoreError> {
    Wkb(wkb.to_vec())
        .to_geo()
        .map_err(|e| StoreError::Database(format!("{what}: unreadable geometry: {e}")))
}

fn compound_from(row: &sqlx::postgres::PgRow) -> Result<Compound, StoreError> {
    let id: i64 = row.try_get("id").map_err(map_err)?;
    let geom = match geo_of(row.try_get::<&[u8], _>("wkb").map_err(map_err)?, "compound")? {
        geo_types::Geometry::MultiPolygon(mp) => mp,
        geo_types::Geometry::Polygon(p) => geo_types::MultiPolygon(vec![p]),
        _ => {
            return Err(StoreError::Database(format!(
                "compound {id}: not a polygon"
            )))
        }
    };
    Ok(Compound {
        id,
        name: row.try_get("name").map_err(map_err)?,
        aliases: row.try_get("aliases").map_err(map_err)?,
        district_code: row.try_get("district_code").map_err(map_err)?,
        street_code: row.try_get("street_code").map_err(map_err)?,
        company_id: row.try_get("company_id").map_err(map_err)?,
        year_built: row.try_get("year_built").map_err(map_err)?,
        households: row.try_get("households").map_err(map_err)?,
        geom,
    })
}

/// Runs the statements of a script (separated by `;` at line ends) one by one.
async fn run_script(conn: &mut PgConnection, script: &str) -> Result<(), StoreError> {
    for stmt in script.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
        conn.execute(stmt).await.map_err(map_err)?;
    }
    Ok(())
}

/// The transaction of a complaint import: stage by COPY, tell repeats from conflicts, insert
/// the new ones with their contacts, table the statistics of the months they fall in — in
/// Rust when the import only appends ([`tally`]), else re-tabled in SQL.
async fn store_complaints(
    pool: &PgPool,
    rows: Arc<Vec<(Complaint, ComplaintContact)>>,
    complaints: String,
    instance: &str,
    touched: &[i64],
) -> Result<ComplaintImport, StoreError> {
    let mut tx = pool.begin().await.map_err(map_err)?;
    tx.execute("SET LOCAL statement_timeout = 0")
        .await
        .map_err(map_err)?;
    let mut report = ComplaintImport::default();
    let mut known = std::collections::HashSet::new();
    // Into an empty table (a city's first import) the complaints are copied straight in:
    // none can be known, and staging them cost 2 of the full export's 30 s.
    let empty: bool = sqlx::query_scalar(include_str!("../../sql/queries/no_complaints.sql"))
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
    let insert = if empty {
        Insert::Copy(complaints)
    } else {
        run_script(
            &mut tx,
            include_str!("../../sql/queries/stage_complaints.sql"),
        )
        .await?;
        copy_in(&mut tx, "COPY stage_complaints FROM STDIN", [complaints]).await?;
        for r in sqlx::query(include_str!("../../sql/queries/complaint_repeats.sql"))
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?
        {
            let ticket: String = r.try_get("ticket_id").map_err(map_err)?;
            if r.try_get::<bool, _>("same").map_err(map_err)? {
                report.unchanged += 1;
            } else {
                report.conflicts.push(ticket.clone());
            }
            known.insert(ticket);
        }
        Insert::Staged
    };
    report.new = rows.len() - known.len();
    if !known.is_empty() && report.new > 0 {
        sqlx::query(include_str!("../../sql/queries/drop_known_complaints.sql"))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
    }
    if report.new > 0 {
        store_new(&mut tx, rows, known, insert, report.new).await?;
        announce(&mut tx, instance, Some(touched)).await?;
    }
    tx.commit().await.map_err(map_err)?;
    Ok(report)
}

/// How an import's new complaints go into `complaints`.
enum Insert {
    /// From `stage_complaints`, which holds them and no stored ones.
    Staged,
    /// Copied straight in (COPY text of every row: none is stored).
    Copy(String),
}

impl Insert {
    async fn run(self, tx: &mut PgConnection) -> Result<(), StoreError> {
        match self {
            Insert::Staged => {
                run_script(tx, include_str!("../../sql/queries/insert_complaints.sql")).await
            }
            Insert::Copy(text) => copy_in(tx, COMPLAINTS_COPY, [text]).await,
        }
    }
}

/// The columns of [`complaint_row`]'s rows, in order.
const COMPLAINTS_COPY: &str = "COPY complaints (ticket_id, received_at, category, channel, address, lon, lat, status, satisfaction, compound_id, building_id, unit_id, match_method, unmatched_reason, closed_at, responded_at) FROM STDIN";

/// Stores an import's new complaints (those of `rows` not `known`) with their contacts and
/// statistics: checked against the geography first, the statistics tabled in Rust when the
/// import only appends ([`tally`]), else re-tabled in SQL.
async fn store_new(
    tx: &mut PgConnection,
    rows: Arc<Vec<(Complaint, ComplaintContact)>>,
    known: std::collections::HashSet<String>,
    insert: Insert,
    new: usize,
) -> Result<(), StoreError> {
    let fresh_rows = fresh(&rows, &known);
    if let Some(missing) = missing_place(&mut *tx, &fresh_rows).await? {
        return Err(StoreError::Rejected(missing));
    }
    copy_in(&mut *tx, CONTACTS_COPY, [contacts_text(&rows, &known)]).await?;
    let (compounds, since) = tally::first_months(&fresh_rows);
    drop(fresh_rows);
    let appends =
        !sqlx::query_scalar::<_, bool>(include_str!("../../sql/queries/stored_since.sql"))
            .bind(&compounds)
            .bind(&since)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
    if appends {
        let before = last_before(&mut *tx, &compounds, &since).await?;
        // Counted on another thread while PostgreSQL inserts the complaints.
        let tables =
            tokio::task::spawn_blocking(move || tally::tally(&fresh(&rows, &known), &before));
        insert.run(&mut *tx).await?;
        let tables = tables
            .await
            .map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
        for (statement, text) in tables {
            copy_in(&mut *tx, statement, [text]).await?;
        }
        tracing::debug!(new, "statistics of an appending import tabled in Rust");
    } else {
        insert.run(&mut *tx).await?;
        run_script(
            &mut *tx,
            include_str!("../../sql/queries/refresh_stats.sql"),
        )
        .await?;
        tracing::debug!(new, "statistics re-tabled in SQL (not only appending)");
    }
    Ok(())
}

/// A complaint as a row of `stage_complaints` in COPY text (times to the second, as they are
/// read; written field by field: formatting through strftime took a tenth of a 1.1 M-row
/// import's client time).
fn complaint_row(out: &mut String, c: &Complaint) {
    use chrono::{Datelike, Timelike};
    fn text(out: &mut String, v: Option<&str>) {
        match v {
            Some(s) => copy_text(out, s),
            None => out.push_str("\\N"),
        }
        out.push('\t');
    }
    fn number(out: &mut String, v: Option<impl std::fmt::Display>) {
        match v {
            Some(v) => {
                let _ = write!(out, "{v}");
            }
            None => out.push_str("\\N"),
        }
        out.push('\t');
    }
    fn time(out: &mut String, t: Option<chrono::NaiveDateTime>) {
        match t {
            Some(t) => {
                let _ = write!(
                    out,
                    "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                    t.year(),
                    t.month(),
                    t.day(),
                    t.hour(),
                    t.minute(),
                    t.second()
                );
            }
            None => out.push_str("\\N"),
        }
    }
    text(out, Some(&c.ticket_id));
    time(out, Some(c.received_at));
    out.push('\t');
    text(out, Some(c.category.code()));
    text(out, Some(&c.channel));
    text(out, Some(&c.address));
    number(out, c.lon);
    number(out, c.lat);
    text(out, Some(&c.status));
    text(out, c.satisfaction.as_deref());
    number(out, c.place.compound_id);
    number(out, c.place.building_id);
    number(out, c.place.unit_id);
    text(out, Some(c.place.method.code()));
    text(out, c.place.note.as_deref());
    time(out, c.closed_at);
    out.push('\t');
    time(out, c.responded_at);
    out.push('\n');
}

/// How the contacts of new complaints are stored.
const CONTACTS_COPY: &str =
    "COPY private.complaint_contacts (ticket_id, caller_name, caller_phone, content) FROM STDIN";

/// The contacts of the complaints of `rows` not already stored (`known`), as COPY text.
fn contacts_text(
    rows: &[(Complaint, ComplaintContact)],
    known: &std::collections::HashSet<String>,
) -> String {
    let mut out = String::with_capacity(rows.len() * 80);
    for (_, p) in rows.iter().filter(|(c, _)| !known.contains(&c.ticket_id)) {
        for (i, f) in [&p.ticket_id, &p.caller_name, &p.caller_phone, &p.content]
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                out.push('\t');
            }
            copy_text(&mut out, f);
        }
        out.push('\n');
    }
    out
}

/// The first place new `complaints` name that the geography does not hold, as a refusal
/// naming the complaint and the place (`sql/queries/missing_places.sql`, each id probed once).
async fn missing_place(
    tx: &mut PgConnection,
    complaints: &[&Complaint],
) -> Result<Option<String>, StoreError> {
    let ids = |pick: fn(&Complaint) -> Option<i64>| {
        let mut v: Vec<i64> = complaints.iter().filter_map(|c| pick(c)).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let compound = |c: &Complaint| c.place.compound_id;
    let building = |c: &Complaint| c.place.building_id;
    let unit = |c: &Complaint| c.place.unit_id;
    let Some((layer, id)) =
        sqlx::query_as::<_, (String, i64)>(include_str!("../../sql/queries/missing_places.sql"))
            .bind(ids(compound))
            .bind(ids(building))
            .bind(ids(unit))
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?
    else {
        return Ok(None);
    };
    let pick = match layer.as_str() {
        "compound" => compound,
        "building" => building,
        _ => unit,
    };
    let ticket = complaints
        .iter()
        .find(|c| pick(c) == Some(id))
        .map_or("?", |c| c.ticket_id.as_str());
    Ok(Some(format!(
        "complaint {ticket} names {layer} {id}, which the geography does not hold"
    )))
}

/// The complaints of `rows` not already stored (`known`).
fn fresh<'a>(
    rows: &'a [(Complaint, ComplaintContact)],
    known: &std::collections::HashSet<String>,
) -> Vec<&'a Complaint> {
    rows.iter()
        .map(|(c, _)| c)
        .filter(|c| !known.contains(&c.ticket_id))
        .collect()
}

/// The last stored complaint of each place and category before an appending import's months
/// (`sql/queries/last_before.sql`).
async fn last_before(
    tx: &mut PgConnection,
    compounds: &[i64],
    since: &[chrono::NaiveDate],
) -> Result<tally::LastBefore, StoreError> {
    let mut before = tally::LastBefore::new();
    for r in sqlx::query(include_str!("../../sql/queries/last_before.sql"))
        .bind(compounds)
        .bind(since)
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?
    {
        let code: String = r.try_get("category").map_err(map_err)?;
        let category = Category::parse(&code).ok_or_else(|| {
            StoreError::Database(format!("a stored complaint has category {code:?}"))
        })?;
        before.insert(
            (
                r.try_get("compound_id").map_err(map_err)?,
                r.try_get("is_unit").map_err(map_err)?,
                r.try_get("place_id").map_err(map_err)?,
                category,
            ),
            r.try_get("day").map_err(map_err)?,
        );
    }
    Ok(before)
}

fn building_from(r: &sqlx::postgres::PgRow) -> Result<Building, StoreError> {
    let id: i64 = r.try_get("id").map_err(map_err)?;
    let geo_types::Geometry::Polygon(geom) =
        geo_of(r.try_get::<&[u8], _>("wkb").map_err(map_err)?, "building")?
    else {
        return Err(StoreError::Database(format!(
            "building {id}: not a polygon"
        )));
    };
    Ok(Building {
        id,
        compound_id: r.try_get("compound_id").map_err(map_err)?,
        name: r.try_get("name").map_err(map_err)?,
        floors: r.try_get("floors").map_err(map_err)?,
        households: r.try_get("households").map_err(map_err)?,
        geom,
    })
}

fn unit_from(r: &sqlx::postgres::PgRow) -> Result<Unit, StoreError> {
    Ok(Unit {
        id: r.try_get("id").map_err(map_err)?,
        building_id: r.try_get("building_id").map_err(map_err)?,
        name: r.try_get("name").map_err(map_err)?,
        households: r.try_get("households").map_err(map_err)?,
        geom: geo_types::Point::new(
            r.try_get("x").map_err(map_err)?,
            r.try_get("y").map_err(map_err)?,
        ),
    })
}

/// The monthly tables, each read as one value: per row the id (int8), the month as days from
/// 2000-01-01 (int4) and the count (int4), and for compounds the category's position in $1
/// (int2, 0 when not there). A million rows arrive as one 15 MB value instead of a million
/// rows, each with its own message and decoding (the statistics load 3× faster, measured; as
/// arrays, one per column, they load slower, sqlx decoding every element).
const COMPOUND_MONTHS: &str = include_str!("../../sql/queries/compound_months.sql");
const BUILDING_MONTHS: &str = include_str!("../../sql/queries/building_months.sql");
const UNIT_MONTHS: &str = include_str!("../../sql/queries/unit_months.sql");
const HANDLING_MONTHS: &str = include_str!("../../sql/queries/handling_months.sql");
const COMPLAINT_HOURS: &str = include_str!("../../sql/queries/complaint_hours.sql");

const COMPOUND_CLOCK: &str = include_str!("../../sql/queries/compound_clock.sql");

/// The category of position `p` (from 1) of the list `monthly_blob` was given.
fn category_at(p: i16) -> Option<Category> {
    usize::try_from(p - 1)
        .ok()
        .and_then(|i| Category::ALL.get(i))
        .copied()
}

/// The compounds' table by category from `compound_months.sql`'s rows (18 bytes each), and
/// the complaints it counts.
fn compound_table(
    months: &Months,
    blob: &[u8],
    month: &mut MonthOfDays,
) -> (crate::model::stats::Table<10>, u64) {
    let mut placed = 0u64;
    let mut by_category = months.counts::<10>();
    for r in blob.chunks_exact(18) {
        let (id, m, k) = monthly_row(r, month);
        placed += u64::from(k);
        if let Some(cat) = category_at(bytes::Buf::get_i16(&mut &r[16..])) {
            months.add_by_category(&mut by_category, id, m, cat, k);
        }
    }
    (by_category.into_table(), placed)
}

/// The compounds' clock from `compound_clock.sql`'s rows (20 bytes each).
fn clock_of(months: &Months, blob: &[u8], month: &mut MonthOfDays) -> crate::model::clock::Clock {
    use bytes::Buf;
    let mut clock = crate::model::clock::ClockBuilder::default();
    for r in blob.chunks_exact(20) {
        let (id, m, k) = monthly_row(r, month);
        let mut rest = &r[16..];
        let cat = category_at(rest.get_i16());
        let slot = u8::try_from(rest.get_i16()).unwrap_or(u8::MAX);
        if let (Some(cat), true) = (cat, usize::from(slot) < crate::model::clock::SLOTS) {
            months.add_clock(&mut clock, id, m, cat, slot, k);
        }
    }
    clock.build()
}

const COMPOUND_REPEATS: &str = include_str!("../../sql/queries/compound_repeats.sql");

/// The compounds' repeats from `compound_repeats.sql`'s rows (30 bytes each).
fn repeats_of(
    months: &Months,
    blob: &[u8],
    month: &mut MonthOfDays,
) -> crate::model::repeat::Repeats {
    use crate::model::repeat::{Place, RepeatsBuilder};
    use bytes::Buf;
    let mut repeats = RepeatsBuilder::default();
    for r in blob.chunks_exact(30) {
        let (id, m, k) = monthly_row(r, month);
        let mut rest = &r[16..];
        let cat =
            category_at(rest.get_i16()).and_then(|c| Category::ALL.iter().position(|x| *x == c));
        let gap = u8::try_from(rest.get_i16()).unwrap_or(crate::model::repeat::NO_GAP);
        let place = match rest.get_i16() {
            1 => Place::Unit(rest.get_i64()),
            _ => Place::Building(rest.get_i64()),
        };
        if let (Some(cat), Some(i)) = (cat, months.index(m)) {
            let e = (
                u16::try_from(i).unwrap_or(u16::MAX),
                u8::try_from(cat).unwrap_or(0),
                gap,
            );
            repeats.add(id, place, e, k);
        }
    }
    repeats.build()
}

/// The handling table from `handling_months.sql`'s rows (24 bytes each).
fn handling_table(
    months: &Months,
    blob: &[u8],
    month: &mut MonthOfDays,
) -> crate::model::stats::Table<3> {
    let mut counts = months.counts::<3>();
    for r in blob.chunks_exact(24) {
        let (id, m, closed) = monthly_row(r, month);
        let mut rest = &r[16..];
        let rated = u32::try_from(bytes::Buf::get_i32(&mut rest)).unwrap_or(0);
        let satisfied = u32::try_from(bytes::Buf::get_i32(&mut rest)).unwrap_or(0);
        months.add_counts(&mut counts, id, m, [closed, rated, satisfied]);
    }
    counts.into_table()
}

/// The compounds' hours from `complaint_hours.sql`'s rows (20 bytes each).
fn hours_of(
    months: &Months,
    first: Option<Month>,
    blob: &[u8],
    month: &mut MonthOfDays,
) -> crate::model::handling::Times {
    use bytes::Buf;
    let mut times = TimesBuilder::default();
    for mut r in blob.chunks_exact(20) {
        let id = r.get_i64();
        let m = month.get(r.get_i32());
        let (resp, close) = (r.get_f32(), r.get_f32());
        let some = |v: f32| (!v.is_nan()).then_some(v);
        if let (Some(f), true) = (first, months.holds(m)) {
            let i = u16::try_from(m.0 - f.0).unwrap_or(u16::MAX);
            times.add(id, i, some(resp), some(close));
        }
    }
    times.build()
}

async fn monthly_blob(
    pool: &PgPool,
    sql: &str,
    categories: Option<&[&str]>,
) -> Result<Vec<u8>, StoreError> {
    let q = sqlx::query_scalar::<_, Vec<u8>>(sql);
    let q = match categories {
        Some(c) => q.bind(c),
        None => q,
    };
    q.fetch_one(pool).await.map_err(map_err)
}

/// Months by the day numbers the monthly tables give (a table holds a few dozen distinct ones).
#[derive(Default)]
struct MonthOfDays(foldhash::HashMap<i32, Month>);

impl MonthOfDays {
    fn get(&mut self, days: i32) -> Month {
        *self.0.entry(days).or_insert_with(|| {
            let epoch = chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default();
            Month::of(epoch + chrono::Duration::days(i64::from(days)))
        })
    }
}

/// The id, month and count at the start of a row of a `monthly_blob` (at least 16 bytes).
fn monthly_row(mut r: &[u8], month: &mut MonthOfDays) -> (i64, Month, u32) {
    use bytes::Buf;
    let id = r.get_i64();
    let m = month.get(r.get_i32());
    (id, m, u32::try_from(r.get_i32()).unwrap_or(0))
}

/// Every row of a query, each made into a record as it arrives.
async fn all_rows<T>(
    pool: &PgPool,
    sql: &str,
    make: impl Fn(&sqlx::postgres::PgRow) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    use futures_util::TryStreamExt;
    let mut out = Vec::new();
    let mut rows = sqlx::query(sql).fetch(pool);
    while let Some(r) = rows.try_next().await.map_err(map_err)? {
        out.push(make(&r)?);
    }
    Ok(out)
}

#[async_trait]
impl Store for PostgisStore {
    fn kind(&self) -> &'static str {
        "postgis"
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        let row = sqlx::query(include_str!("../../sql/queries/counts.sql"))
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        let get = |k: &str| row.try_get::<i64, _>(k).map_err(map_err);
        Ok(Counts {
            districts: get("districts")?,
            streets: get("streets")?,
            companies: get("companies")?,
            compounds: get("compounds")?,
            buildings: get("buildings")?,
            units: get("units")?,
            households: get("households")?,
            complaints: get("complaints")?,
        })
    }

    async fn import(&self, data: Dataset) -> Result<ImportReport, StoreError> {
        // Encode before opening the transaction: a bad geometry fails without touching the store.
        let mut bodies: Vec<(Layer, Vec<String>, usize)> = Vec::new();
        let companies: Vec<String> = {
            let mut s = String::new();
            for c in &data.companies {
                let _ = write!(s, "{}\t", c.id);
                copy_text(&mut s, &c.name);
                s.push('\n');
            }
            if s.is_empty() {
                Vec::new()
            } else {
                vec![s]
            }
        };
        bodies.push((
            Layer::Districts,
            encode(&data.districts)?,
            data.districts.len(),
        ));
        bodies.push((Layer::Streets, encode(&data.streets)?, data.streets.len()));
        bodies.push((Layer::Companies, companies, data.companies.len()));
        bodies.push((
            Layer::Compounds,
            encode(&data.compounds)?,
            data.compounds.len(),
        ));
        bodies.push((
            Layer::Buildings,
            encode(&data.buildings)?,
            data.buildings.len(),
        ));
        bodies.push((Layer::Units, encode(&data.units)?, data.units.len()));

        let mut tx = self.pool.begin().await.map_err(map_err)?;
        tx.execute("SET LOCAL statement_timeout = 0")
            .await
            .map_err(map_err)?;
        let mut report = ImportReport::default();
        for (layer, body, n) in bodies {
            if n == 0 {
                continue;
            }
            stage(&mut tx, layer, body).await?;
            // A key twice in one import would make the upsert touch a row twice.
            let dup: Option<String> = sqlx::query_scalar(&format!(
                "SELECT {k}::text FROM stage_{t} GROUP BY {k} HAVING count(*) > 1 LIMIT 1",
                k = if matches!(layer, Layer::Districts | Layer::Streets) {
                    "code"
                } else {
                    "id"
                },
                t = layer.name()
            ))
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
            if let Some(k) = dup {
                return Err(StoreError::Rejected(format!(
                    "{layer}: key {k} appears twice in the import"
                )));
            }
            let done = sqlx::query(upsert_sql(layer))
                .execute(&mut *tx)
                .await
                .map_err(|e| match map_err(e) {
                    StoreError::Rejected(m) => StoreError::Rejected(format!("{layer}: {m}")),
                    other => other,
                })?;
            report.read.insert(layer, n);
            let changed = usize::try_from(done.rows_affected()).unwrap_or(usize::MAX);
            report.changed.insert(layer, changed);
        }
        if report.changed.values().any(|n| *n > 0) {
            announce(&mut tx, &self.instance, None).await?;
        }
        tx.commit().await.map_err(map_err)?;
        if report.changed.values().any(|n| *n > 0) {
            self.versions.geography_changed();
        }
        Ok(report)
    }

    async fn compound(&self, id: i64) -> Result<Option<Compound>, StoreError> {
        let row = sqlx::query(include_str!("../../sql/queries/compound_by_id.sql"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref().map(compound_from).transpose()
    }

    async fn compounds_in_bbox(
        &self,
        bbox: Bbox,
        limit: usize,
    ) -> Result<Vec<Compound>, StoreError> {
        let rows = sqlx::query(include_str!("../../sql/queries/compounds_in_bbox.sql"))
            .bind(bbox[0])
            .bind(bbox[1])
            .bind(bbox[2])
            .bind(bbox[3])
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter().map(compound_from).collect()
    }

    async fn find_compounds(
        &self,
        area: &Area,
        only: Option<&[i64]>,
        limit: usize,
    ) -> Result<Vec<Hit>, StoreError> {
        let only: Option<Vec<i64>> = only.map(<[i64]>::to_vec);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let wkb = |g: geo_types::Geometry<f64>| {
            g.to_wkb(CoordDimensions::xy())
                .map_err(|e| StoreError::Rejected(format!("cannot encode the search shape: {e}")))
        };
        // Every query is parameterised; distances on the spheroid through `geography`.
        let q = match area {
            Area::Near { point, radius_m } => {
                sqlx::query(include_str!("../../sql/queries/find_near.sql"))
                    .bind(point.x())
                    .bind(point.y())
                    .bind(*radius_m)
                    .bind(only)
                    .bind(limit)
            }
            Area::Bbox(b) => sqlx::query(include_str!("../../sql/queries/find_in_bbox.sql"))
                .bind(b[0])
                .bind(b[1])
                .bind(b[2])
                .bind(b[3])
                .bind(only)
                .bind(limit),
            Area::Polygon(mp) => sqlx::query(include_str!("../../sql/queries/find_in_polygon.sql"))
                .bind(wkb(geo_types::Geometry::MultiPolygon(mp.clone()))?)
                .bind(only)
                .bind(limit),
            Area::Corridor { line, distance_m } => {
                sqlx::query(include_str!("../../sql/queries/find_along.sql"))
                    .bind(wkb(geo_types::Geometry::MultiLineString(line.clone()))?)
                    .bind(*distance_m)
                    .bind(only)
                    .bind(limit)
            }
        };
        let rows = q.fetch_all(&self.pool).await.map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok(Hit {
                    id: r.try_get("id").map_err(map_err)?,
                    distance_m: r.try_get("d").map_err(map_err)?,
                })
            })
            .collect()
    }

    async fn buildings_of(&self, compound_id: i64) -> Result<Vec<Building>, StoreError> {
        let rows = sqlx::query(include_str!("../../sql/queries/buildings_of_compound.sql"))
            .bind(compound_id)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter().map(building_from).collect()
    }

    async fn units_of(&self, building_id: i64) -> Result<Vec<Unit>, StoreError> {
        let rows = sqlx::query(include_str!("../../sql/queries/units_of_building.sql"))
            .bind(building_id)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter().map(unit_from).collect()
    }

    fn version(&self) -> u64 {
        self.versions.data()
    }

    fn geography_version(&self) -> u64 {
        self.versions.geography()
    }

    fn pool_stats(&self) -> Option<(u32, usize)> {
        Some((self.pool.size(), self.pool.num_idle()))
    }

    async fn geography(&self) -> Result<Arc<Dataset>, StoreError> {
        self.geography
            .get_or_make(self.geography_version(), self.read_geography())
            .await
    }

    async fn import_complaints(
        &self,
        rows: Vec<(Complaint, ComplaintContact)>,
    ) -> Result<ComplaintImport, StoreError> {
        let mut complaints = String::with_capacity(rows.len() * 160);
        for (c, _) in &rows {
            complaint_row(&mut complaints, c);
        }
        let mut touched: Vec<i64> = rows
            .iter()
            .filter_map(|(c, _)| c.place.compound_id)
            .collect();
        touched.sort_unstable();
        touched.dedup();
        let report = store_complaints(
            &self.pool,
            Arc::new(rows),
            complaints,
            &self.instance,
            &touched,
        )
        .await?;
        if report.new > 0 {
            self.versions.facts_changed();
        }
        Ok(report)
    }

    async fn stats(&self) -> Result<Arc<Stats>, StoreError> {
        self.stats
            .get_or_make(self.version(), self.read_stats())
            .await
    }

    async fn save_grades(&self, grades: &[&GradeRecord]) -> Result<(), StoreError> {
        let mut body = String::new();
        for r in grades {
            let _ = writeln!(
                body,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                r.period,
                r.compound_id,
                r.grade.code(),
                r.computed.code(),
                r.rate,
                r.rank,
                r.of,
                r.held,
                r.rule_version
            );
        }
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        tx.execute("SET LOCAL statement_timeout = 0")
            .await
            .map_err(map_err)?;
        tx.execute(include_str!("../../sql/queries/clear_grades.sql"))
            .await
            .map_err(map_err)?;
        copy_in(&mut tx, "COPY grades FROM STDIN", [body]).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    async fn overrides(&self) -> Result<Vec<Override>, StoreError> {
        let rows = sqlx::query(include_str!("../../sql/queries/read_overrides.sql"))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok(Override {
                    compound_id: r.try_get("compound_id").map_err(map_err)?,
                    period: parsed(r, "period", Quarter::parse)?,
                    grade: parsed(r, "grade", Grade::parse)?,
                    reason: r.try_get("reason").map_err(map_err)?,
                    author: r.try_get("author").map_err(map_err)?,
                    at: r.try_get("at").map_err(map_err)?,
                })
            })
            .collect()
    }

    async fn add_override(&self, o: Override) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        sqlx::query(include_str!("../../sql/queries/add_override.sql"))
            .bind(o.compound_id)
            .bind(o.period.to_string())
            .bind(o.grade.code())
            .bind(&o.reason)
            .bind(&o.author)
            .bind(o.at)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        announce(&mut tx, &self.instance, Some(&[o.compound_id])).await?;
        tx.commit().await.map_err(map_err)?;
        self.versions.facts_changed();
        Ok(())
    }

    async fn company_overrides(&self) -> Result<Vec<CompanyOverride>, StoreError> {
        let rows = sqlx::query(include_str!("../../sql/queries/read_company_overrides.sql"))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok(CompanyOverride {
                    company_id: r.try_get("company_id").map_err(map_err)?,
                    period: parsed(r, "period", Quarter::parse)?,
                    from: parsed(r, "from_list", List::parse)?,
                    list: parsed(r, "list", List::parse)?,
                    reason: r.try_get("reason").map_err(map_err)?,
                    author: r.try_get("author").map_err(map_err)?,
                    at: r.try_get("at").map_err(map_err)?,
                })
            })
            .collect()
    }

    async fn add_company_override(&self, o: CompanyOverride) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let compounds: Vec<i64> =
            sqlx::query_scalar(include_str!("../../sql/queries/add_company_override.sql"))
                .bind(o.company_id)
                .bind(o.period.to_string())
                .bind(o.from.code())
                .bind(o.list.code())
                .bind(&o.reason)
                .bind(&o.author)
                .bind(o.at)
                .fetch_all(&mut *tx)
                .await
                .map_err(map_err)?;
        announce(&mut tx, &self.instance, Some(&compounds)).await?;
        tx.commit().await.map_err(map_err)?;
        self.versions.facts_changed();
        Ok(())
    }

    async fn changes(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<Change>> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let pool = self.pool.clone();
        let versions = Arc::clone(&self.versions);
        let instance = self.instance.clone();
        tokio::spawn(async move {
            loop {
                let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::debug!(error = %e, "change listener cannot connect yet");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                if listener.listen(CHANNEL).await.is_err() {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                // Whatever happened while not listening is unknown: assume anything did.
                versions.geography_changed();
                if tx.send(Change::All).is_err() {
                    return;
                }
                // `Ok(None)` or an error: the connection was lost; listen again (and assume
                // the worst, above).
                while let Ok(Some(n)) = listener.try_recv().await {
                    if let Some(change) = parse_notice(n.payload(), &instance) {
                        match change {
                            Change::All => versions.geography_changed(),
                            Change::Compounds(_) => versions.facts_changed(),
                        }
                        if tx.send(change).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Some(rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_control_characters() {
        let mut s = String::new();
        copy_text(&mut s, "a\tb\\c\nd");
        assert_eq!(s, "a\\tb\\\\c\\nd");
    }

    #[test]
    fn array_literal_quotes_items() {
        assert_eq!(
            array_literal(&["金秋小区", "a\"b"]),
            r#"{"金秋小区","a\"b"}"#
        );
        assert_eq!(array_literal(&[]), "{}");
    }
}
