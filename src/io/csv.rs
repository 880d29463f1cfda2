//! Companies as CSV (`id,name`): a table without geometry.

use super::FormatError;
use crate::model::Company;
use std::path::Path;

/// Writes the company register.
pub fn write_companies(path: &Path, companies: &[Company]) -> Result<(), FormatError> {
    let err = |e: &dyn std::fmt::Display| FormatError::file(path, format!("cannot write: {e}"));
    let tmp = path.with_extension("csv.tmp");
    let mut w = csv::Writer::from_path(&tmp).map_err(|e| err(&e))?;
    for c in companies {
        w.serialize(c).map_err(|e| err(&e))?;
    }
    w.flush().map_err(|e| err(&e))?;
    drop(w);
    std::fs::rename(&tmp, path).map_err(|e| err(&e))
}

/// Reads the company register, naming the line and field of any bad row.
pub fn read_companies(path: &Path) -> Result<Vec<Company>, FormatError> {
    let mut r = csv::Reader::from_path(path)
        .map_err(|e| FormatError::file(path, format!("cannot open: {e}")))?;
    let headers = r
        .headers()
        .map_err(|e| FormatError::file(path, format!("cannot read the header line: {e}")))?
        .clone();
    for needed in ["id", "name"] {
        if !headers.iter().any(|h| h == needed) {
            return Err(FormatError {
                file: path.to_path_buf(),
                feature: Some(1),
                id: None,
                field: Some(needed.into()),
                message: "missing column".into(),
            });
        }
    }
    let mut out = Vec::new();
    for (i, row) in r.deserialize::<Company>().enumerate() {
        let line = i + 2;
        let c = row.map_err(|e| FormatError {
            file: path.to_path_buf(),
            feature: Some(line),
            id: None,
            field: match e.kind() {
                csv::ErrorKind::Deserialize { err, .. } => err
                    .field()
                    .and_then(|i| headers.get(usize::try_from(i).unwrap_or(usize::MAX)))
                    .map(str::to_string),
                _ => None,
            },
            message: format!("bad row: {e}"),
        })?;
        if c.id <= 0 || c.name.trim().is_empty() {
            return Err(FormatError {
                file: path.to_path_buf(),
                feature: Some(line),
                id: Some(c.id.to_string()),
                field: Some(if c.id <= 0 { "id" } else { "name" }.into()),
                message: "must be a positive id and a non-empty name".into(),
            });
        }
        out.push(c);
    }
    Ok(out)
}
