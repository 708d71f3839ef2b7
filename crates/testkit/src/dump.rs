//! Read models dumped whole, to compare two builds of them: a store that crashed against a
//! rebuild, N partitions against one worker, an upcast feed against the current one.
//!
//! The tables come from each projection's own schema, so a table added to a projection is
//! compared without anyone remembering to list it. Rows are sorted by every column, so the
//! dump does not depend on the order a backend returns them in.

use std::cmp::Ordering;

use projector_core::ProjectionName;
use projector_sql::{SqlProjection, SqlReadStore, SqlValue};

/// A read model's tables.
pub type Dump = Vec<Table>;

/// One table, whole.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// `projection.table`.
    pub name: String,
    /// The columns' names, in order (none when the table is empty).
    pub columns: Vec<String>,
    /// Every row, sorted by every column.
    pub rows: Vec<Vec<SqlValue>>,
}

/// Every row of each table of each of `projections` in `reads`.
///
/// # Panics
/// When a table cannot be read.
pub async fn read_models(reads: &dyn SqlReadStore, projections: &[&dyn SqlProjection]) -> Dump {
    let mut dump = Dump::new();
    for projection in projections {
        let name = projection.name();
        for table in tables_of(*projection) {
            dump.push(read_table(reads, &name, &table).await);
        }
    }
    dump
}

/// The rows of `table` in `dump`, whichever projection keeps it.
///
/// # Panics
/// When `dump` has no such table.
pub fn rows<'a>(dump: &'a Dump, table: &str) -> &'a [Vec<SqlValue>] {
    dump.iter()
        .find(|t| t.name.rsplit('.').next() == Some(table))
        .map(|t| t.rows.as_slice())
        .unwrap_or_else(|| panic!("no table {table} in the dump"))
}

/// `dump` with each value passed through `mask(column, value)`, to hide what differs between
/// two builds that should compare equal (the times a store recorded), sorted again.
pub fn masked(mut dump: Dump, mask: impl Fn(&str, SqlValue) -> SqlValue) -> Dump {
    for table in &mut dump {
        for row in &mut table.rows {
            for (value, column) in row.iter_mut().zip(&table.columns) {
                *value = mask(column, std::mem::replace(value, SqlValue::Null));
            }
        }
        table.rows.sort_by(|a, b| compare_rows(a, b));
    }
    dump
}

/// Every row of `table` of `projection`'s serving read model, sorted by every column.
///
/// # Panics
/// When the table cannot be read.
pub async fn read_table(
    reads: &dyn SqlReadStore,
    projection: &ProjectionName,
    table: &str,
) -> Table {
    let found = reads
        .query(projection, &format!("SELECT * FROM {table}"), &[])
        .await
        .unwrap_or_else(|e| panic!("reading {projection}.{table}: {e}"));
    let columns = found
        .first()
        .map(|r| r.columns().to_vec())
        .unwrap_or_default();
    let mut rows: Vec<Vec<SqlValue>> = found.into_iter().map(|row| row.values().to_vec()).collect();
    rows.sort_by(|a, b| compare_rows(a, b));
    Table {
        name: format!("{projection}.{table}"),
        columns,
        rows,
    }
}

/// The tables `projection`'s schema creates, in the order it creates them.
pub fn tables_of(projection: &dyn SqlProjection) -> Vec<String> {
    projection
        .schema()
        .iter()
        .flat_map(|statements| created_tables(statements))
        .collect()
}

/// The names after each `CREATE TABLE [IF NOT EXISTS]` in `sql`.
fn created_tables(sql: &str) -> Vec<String> {
    let words: Vec<&str> = sql.split_whitespace().collect();
    let mut tables = Vec::new();
    for (i, pair) in words.windows(2).enumerate() {
        if !(pair[0].eq_ignore_ascii_case("create") && pair[1].eq_ignore_ascii_case("table")) {
            continue;
        }
        let mut rest = words[i + 2..].iter();
        let mut name = rest.next().copied();
        if name.is_some_and(|w| w.eq_ignore_ascii_case("if")) {
            name = rest.nth(2).copied(); // past NOT EXISTS
        }
        if let Some(name) = name {
            let name = name.split('(').next().unwrap_or(name).trim_matches('"');
            tables.push(name.to_owned());
        }
    }
    tables
}

/// A total order on rows: column by column.
fn compare_rows(a: &[SqlValue], b: &[SqlValue]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| compare_values(x, y))
        .find(|o| o.is_ne())
        .unwrap_or_else(|| a.len().cmp(&b.len()))
}

/// A total order on values: by kind first, then by value (reals by `total_cmp`).
fn compare_values(a: &SqlValue, b: &SqlValue) -> Ordering {
    fn rank(value: &SqlValue) -> u8 {
        match value {
            SqlValue::Null => 0,
            SqlValue::Bool(_) => 1,
            SqlValue::Int(_) => 2,
            SqlValue::Real(_) => 3,
            SqlValue::Text(_) => 4,
        }
    }
    match (a, b) {
        (SqlValue::Bool(x), SqlValue::Bool(y)) => x.cmp(y),
        (SqlValue::Int(x), SqlValue::Int(y)) => x.cmp(y),
        (SqlValue::Real(x), SqlValue::Real(y)) => x.total_cmp(y),
        (SqlValue::Text(x), SqlValue::Text(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_tables_are_found_with_and_without_if_not_exists() {
        let sql = "CREATE TABLE IF NOT EXISTS order_summary (\n  order_id TEXT PRIMARY KEY\n);\n\
                   create index if not exists by_customer on order_summary (customer_id);\n\
                   CREATE TABLE customer_regions(customer_id TEXT);";
        assert_eq!(
            created_tables(sql),
            ["order_summary", "customer_regions"],
            "tables, not indexes"
        );
    }

    #[test]
    fn rows_sort_by_every_column_and_kind() {
        let mut rows = vec![
            vec![SqlValue::Text("b".into()), SqlValue::Int(1)],
            vec![SqlValue::Text("a".into()), SqlValue::Int(2)],
            vec![SqlValue::Text("a".into()), SqlValue::Null],
            vec![SqlValue::Text("a".into()), SqlValue::Real(1.5)],
        ];
        rows.sort_by(|a, b| compare_rows(a, b));
        assert_eq!(
            rows,
            [
                vec![SqlValue::Text("a".into()), SqlValue::Null],
                vec![SqlValue::Text("a".into()), SqlValue::Int(2)],
                vec![SqlValue::Text("a".into()), SqlValue::Real(1.5)],
                vec![SqlValue::Text("b".into()), SqlValue::Int(1)],
            ]
        );
    }
}
