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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_server::client;

    #[tokio::test]
    async fn a_column_that_does_not_hold_what_was_asked_is_an_internal_error_naming_it() {
        let c = client().await;
        let row = c
            .query_one("SELECT 7::int AS seven, NULL::int AS nothing", &[])
            .await
            .unwrap();
        assert_eq!(column::<i32>(&row, 0, "counting").unwrap(), 7);
        assert_eq!(column::<Option<i32>>(&row, 1, "counting").unwrap(), None);
        for err in [
            column::<i32>(&row, 1, "counting").unwrap_err(),
            column::<String>(&row, 0, "counting").unwrap_err(),
            column::<i32>(&row, 5, "counting").unwrap_err(),
        ] {
            assert!(matches!(err, Error::Internal { .. }), "{err:?}");
            assert!(err.to_string().contains("counting: column"), "{err}");
            assert!(err.help().contains("bug in tandem"), "{}", err.help());
        }
        let err = column::<i32>(&row, 1, "counting").unwrap_err();
        assert!(err.to_string().contains("`nothing`"), "{err}");
        assert_eq!(
            texts(
                &c.query_one("SELECT 'a' AS x, 'b' AS y", &[]).await.unwrap(),
                2,
                "q"
            )
            .unwrap(),
            vec!["a", "b"]
        );
    }
}
