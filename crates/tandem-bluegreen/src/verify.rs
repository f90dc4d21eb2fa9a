//! `tandem bluegreen verify`: both sides hold the same rows, the active side's seen through
//! the mapping (blue's rows through the migration's `up` while blue is active). Table by
//! table, in keyset batches: a hash per row on each side, compared by key. A batch that
//! differs is compared again once the passive side has caught up with the active side's
//! WAL position (replication is asynchronous, so a row written a moment ago may not be
//! there yet); what still differs is reported with its first keys.

use crate::catalog::{self, get, Table};
use crate::mapping::{substitute, TableMap};
use crate::names::SCHEMA;
use crate::sides::{Conn, Options, Pair};
use crate::state::{self, State};
use crate::{Error, Progress, Result, Side};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tandem_core::quote::{ident, qualified};

#[derive(Debug, Clone)]
pub struct VerifySettings {
    pub batch_size: i64,
    /// How often a differing batch is compared again after the passive side caught up.
    pub attempts: u32,
    /// At most this many differing keys are listed per table.
    pub max_keys: usize,
}

impl Default for VerifySettings {
    fn default() -> Self {
        VerifySettings {
            batch_size: 10_000,
            attempts: 5,
            max_keys: 10,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TableVerification {
    /// The table on the active side, and the table it maps to.
    pub source: String,
    pub target: String,
    pub rows_active: i64,
    pub rows_passive: i64,
    pub batches: i64,
    /// `missing <key>`, `extra <key>`, `different <key>`: the first differences.
    pub differences: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub active: Side,
    pub tables: Vec<TableVerification>,
}

pub async fn verify(
    options: &Options,
    settings: &VerifySettings,
    progress: &dyn Progress,
) -> Result<VerifyReport> {
    let pair = Pair::connect(options).await?;
    let (blue_state, green_state) = state::load_pair(&pair.blue, &pair.green).await?;
    let from = blue_state.active;
    let (active, passive) = (pair.side(from), pair.side(from.other()));
    let passive_state = if from == Side::Blue {
        &green_state
    } else {
        &blue_state
    };
    let active_tables = catalog::tables(active.client(), &options.schema).await?;
    let mut passive_tables = catalog::tables(passive.client(), &options.schema).await?;
    passive_tables.extend(catalog::tables(passive.client(), SCHEMA).await?);
    let mut tables = Vec::new();
    for map in blue_state.mapping.from_side(from) {
        let Some(target) = &map.target else { continue };
        let Some(source) = active_tables.iter().find(|t| t.name == map.source) else {
            continue;
        };
        // The passive side's own table: parked under tandem's schema, or under its name.
        let parked = passive_state.parked.contains(target);
        let staged = passive_state.staging.contains(target) && !parked;
        let Some(real) = passive_tables.iter().rev().find(|t| &t.name == target) else {
            continue;
        };
        if staged {
            continue;
        }
        let location = if parked {
            qualified(SCHEMA, target)
        } else {
            qualified(&options.schema, target)
        };
        progress.step(&format!("verifying {} against {}", map.source, target));
        tables.push(
            table(
                active,
                passive,
                &options.schema,
                from,
                map,
                source,
                real,
                &location,
                settings,
            )
            .await?,
        );
    }
    // Counts are read while writes go on; the rows compared after catching up decide.
    let ok = tables.iter().all(|t| t.differences.is_empty());
    for (conn, st) in [(&pair.blue, &blue_state), (&pair.green, &green_state)] {
        let mut st: State = st.clone();
        st.verified = Some(ok);
        state::save(conn, &st).await?;
    }
    Ok(VerifyReport {
        ok,
        active: from,
        tables,
    })
}

/// The SQL that reads one side's batch: `(key text, row hash)` ordered by key.
struct Reader {
    key: Vec<String>,
    key_text: String,
    hash: String,
    from: String,
}

impl Reader {
    /// Key bounds travel as text and are cast to the key's types in the statement.
    fn batch_sql(
        &self,
        key_types: &[String],
        bounded_below: bool,
        bounded_above: bool,
        limit: Option<i64>,
    ) -> String {
        let key_row = format!("({})", self.key.join(", "));
        let n = self.key.len();
        let params = |offset: usize| {
            format!(
                "({})",
                key_types
                    .iter()
                    .enumerate()
                    .map(|(i, t)| format!("${}::text::{t}", offset + i + 1))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let key_parts = self
            .key
            .iter()
            .map(|k| format!("({k})::text"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut conditions = Vec::new();
        if bounded_below {
            conditions.push(format!("{key_row} > {}", params(0)));
        }
        if bounded_above {
            conditions.push(format!(
                "{key_row} <= {}",
                params(if bounded_below { n } else { 0 })
            ));
        }
        format!(
            "SELECT ARRAY[{key_parts}], {}, {} FROM {} {} ORDER BY {} {}",
            self.key_text,
            self.hash,
            self.from,
            if conditions.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", conditions.join(" AND "))
            },
            self.key.join(", "),
            limit.map(|l| format!("LIMIT {l}")).unwrap_or_default()
        )
    }
}

#[allow(clippy::too_many_arguments)]
async fn table(
    active: &Conn,
    passive: &Conn,
    schema: &str,
    from: Side,
    map: &TableMap,
    source: &Table,
    target: &Table,
    location: &str,
    settings: &VerifySettings,
) -> Result<TableVerification> {
    // Green's rows are compared with blue's through `up`. Once green is active, blue's rows
    // are green's through `down`, which need not be an inverse (a lossy type change): only
    // the columns carried as they are are compared then.
    let columns: Vec<&crate::mapping::ColumnMap> = map
        .columns
        .iter()
        .filter(|c| target.column(&c.target).is_some_and(|t| !t.generated))
        .filter(|c| from == Side::Blue || map.is_plain(c))
        .collect();
    let type_of = |c: &str| {
        target
            .column(c)
            .map(|c| c.data_type.clone())
            .unwrap_or_else(|| "text".into())
    };
    let plain: BTreeMap<String, String> = source
        .columns
        .iter()
        .map(|c| (c.name.clone(), ident(&c.name)))
        .collect();
    let mut active_values = Vec::new();
    for c in &columns {
        let expr = substitute(&c.expression, &source.name, &plain)?;
        active_values.push(format!("CAST(({expr}) AS {})", type_of(&c.target)));
    }
    let passive_values: Vec<String> = columns.iter().map(|c| ident(&c.target)).collect();
    // The key: the target's primary key when every column of it is mapped, else every column.
    let key_cols: Vec<usize> = if !target.key.is_empty()
        && target
            .key
            .iter()
            .all(|k| columns.iter().any(|c| &c.target == k))
    {
        target
            .key
            .iter()
            .filter_map(|k| columns.iter().position(|c| &c.target == k))
            .collect()
    } else {
        (0..columns.len()).collect()
    };
    let key_text = |values: &[String]| {
        format!(
            "concat_ws(',', {})",
            key_cols
                .iter()
                .map(|i| format!("({})::text", values[*i]))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let hash = |values: &[String]| format!("md5(ROW({})::text)", values.join(", "));
    let active_reader = Reader {
        key: key_cols.iter().map(|i| active_values[*i].clone()).collect(),
        key_text: key_text(&active_values),
        hash: hash(&active_values),
        from: qualified(schema, &source.name),
    };
    let passive_reader = Reader {
        key: key_cols
            .iter()
            .map(|i| passive_values[*i].clone())
            .collect(),
        key_text: key_text(&passive_values),
        hash: hash(&passive_values),
        from: location.to_string(),
    };
    let key_types: Vec<String> = key_cols
        .iter()
        .map(|i| type_of(&columns[*i].target))
        .collect();
    let mut differences = Vec::new();
    let mut batches = 0;
    let mut rows_active = 0;
    let mut rows_passive = 0;
    // The last key of the previous batch, as text per key column, cast on each use.
    let mut lower: Option<Vec<String>> = None;
    loop {
        let a = read(
            active,
            &active_reader,
            &key_types,
            lower.as_deref(),
            None,
            Some(settings.batch_size),
        )
        .await?;
        let upper = if (a.len() as i64) < settings.batch_size {
            None
        } else {
            a.last().map(|r| r.2.clone())
        };
        let p = read(
            passive,
            &passive_reader,
            &key_types,
            lower.as_deref(),
            upper.as_deref(),
            None,
        )
        .await?;
        batches += 1;
        rows_active += a.len() as i64;
        rows_passive += p.len() as i64;
        let mut differing = compare(&a, &p, None);
        // Replication is asynchronous: read the active side, wait until the passive side has
        // everything written before that read, read it, and compare the rows that differed.
        let mut attempt = 1;
        while !differing.is_empty() && attempt < settings.attempts {
            attempt += 1;
            let a = read(
                active,
                &active_reader,
                &key_types,
                lower.as_deref(),
                upper.as_deref(),
                None,
            )
            .await?;
            crate::switch::catch_up(active, passive, Duration::from_secs(10)).await?;
            let p = read(
                passive,
                &passive_reader,
                &key_types,
                lower.as_deref(),
                upper.as_deref(),
                None,
            )
            .await?;
            let keys: Vec<String> = differing.iter().map(|d| d.1.clone()).collect();
            differing = compare(&a, &p, Some(&keys));
        }
        for (kind, key) in differing {
            if differences.len() < settings.max_keys {
                differences.push(format!("{kind}: key ({key})"));
            }
        }
        match upper {
            Some(u) => lower = Some(u),
            None => break,
        }
    }
    Ok(TableVerification {
        source: source.name.clone(),
        target: target.name.clone(),
        rows_active,
        rows_passive,
        batches,
        differences,
    })
}

type Rows = Vec<(String, String, Vec<String>)>;

/// The keys that differ between the two sides' rows (only among `only`, when given).
fn compare(a: &Rows, p: &Rows, only: Option<&[String]>) -> Vec<(&'static str, String)> {
    let pm: HashMap<&str, &str> = p.iter().map(|r| (r.0.as_str(), r.1.as_str())).collect();
    let am: HashMap<&str, &str> = a.iter().map(|r| (r.0.as_str(), r.1.as_str())).collect();
    let wanted = |k: &str| only.is_none_or(|o| o.iter().any(|x| x == k));
    let mut out = Vec::new();
    for (k, h, _) in a.iter().filter(|r| wanted(&r.0)) {
        match pm.get(k.as_str()) {
            None => out.push(("missing on the passive side", k.clone())),
            Some(ph) if ph != h => out.push(("different", k.clone())),
            _ => {}
        }
    }
    for (k, _, _) in p.iter().filter(|r| wanted(&r.0)) {
        if !am.contains_key(k.as_str()) {
            out.push(("extra on the passive side", k.clone()));
        }
    }
    out
}

/// `(key text, hash, key columns as text)` rows of one batch.
async fn read(
    conn: &Conn,
    reader: &Reader,
    key_types: &[String],
    lower: Option<&[String]>,
    upper: Option<&[String]>,
    limit: Option<i64>,
) -> Result<Rows> {
    let sql = reader.batch_sql(key_types, lower.is_some(), upper.is_some(), limit);
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = Vec::new();
    for b in lower.iter().chain(upper.iter()) {
        for v in b.iter() {
            params.push(v);
        }
    }
    let rows = conn
        .client()
        .query(sql.as_str(), &params)
        .await
        .map_err(|e| Error::db(format!("reading a batch on {}", conn.target), e))?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let parts: Vec<Option<String>> = get(&r, 0)?;
        let key: Option<String> = get(&r, 1)?;
        let hash: Option<String> = get(&r, 2)?;
        out.push((
            key.unwrap_or_default(),
            hash.unwrap_or_default(),
            parts.into_iter().map(|p| p.unwrap_or_default()).collect(),
        ));
    }
    Ok(out)
}
