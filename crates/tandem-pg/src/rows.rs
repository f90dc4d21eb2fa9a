//! Reading values out of result rows without panicking: a column that does not hold what the
//! query promised (a NULL, another type) is an internal error naming the query and the column,
//! never a crash in the middle of a migration.

use crate::error::{Error, Result};
use tokio_postgres::types::FromSql;
use tokio_postgres::Row;

/// Column `index` of `row`, as `T`. `query` says which query the row came from, in words
/// ("reading tandem's history"), for the error.
pub(crate) fn column<'a, T: FromSql<'a>>(row: &'a Row, index: usize, query: &str) -> Result<T> {
    row.try_get(index).map_err(|e| {
        let name = row
            .columns()
            .get(index)
            .map(|c| c.name().to_string())
            .unwrap_or_else(|| "?".into());
        Error::internal(format!(
            "{query}: column {} (`{name}`) of the result cannot be read: {e}",
            index + 1
        ))
    })
}

/// Columns `0..width` of `row`, each as text (a key read back with `::text`).
pub(crate) fn texts(row: &Row, width: usize, query: &str) -> Result<Vec<String>> {
    (0..width).map(|i| column(row, i, query)).collect()
}
