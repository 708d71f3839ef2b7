//! Result columns as portable [`SqlValue`]s, by the column's PostgreSQL type.
//!
//! Integers (`int2`, `int4`, `int8`) read as `Int`; `float4`, `float8` and `numeric` as `Real`;
//! `text`, `varchar`, `char` and `name` as `Text`; `bool` as `Bool`; times (`timestamptz`,
//! `timestamp` taken as UTC, `date`) and `uuid` as `Text` in the portable forms (see
//! [`sql_time`]). Any other type is a [`SqlErrorKind::Conversion`] error naming the column.

use std::error::Error;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use projector_sql::{Row, SqlError, SqlErrorKind, SqlValue, sql_time};
use tokio_postgres::types::{FromSql, Type};

use crate::error::sql_error;

/// Every row of a result as portable rows sharing one list of column names.
pub(crate) fn rows(rows: &[tokio_postgres::Row]) -> Result<Vec<Row>, SqlError> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let columns: Arc<[String]> = first
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    rows.iter()
        .map(|row| {
            let values = (0..row.len())
                .map(|i| value(row, i))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Row::new(Arc::clone(&columns), values))
        })
        .collect()
}

fn value(row: &tokio_postgres::Row, index: usize) -> Result<SqlValue, SqlError> {
    let ty = row.columns()[index].type_().clone();
    let get = |index| -> Result<SqlValue, tokio_postgres::Error> {
        Ok(match ty {
            Type::BOOL => row.try_get::<_, Option<bool>>(index)?.map(SqlValue::Bool),
            Type::INT2 => row
                .try_get::<_, Option<i16>>(index)?
                .map(|v| SqlValue::Int(v.into())),
            Type::INT4 => row
                .try_get::<_, Option<i32>>(index)?
                .map(|v| SqlValue::Int(v.into())),
            Type::INT8 => row.try_get::<_, Option<i64>>(index)?.map(SqlValue::Int),
            Type::FLOAT4 => row
                .try_get::<_, Option<f32>>(index)?
                .map(|v| SqlValue::Real(v.into())),
            Type::FLOAT8 => row.try_get::<_, Option<f64>>(index)?.map(SqlValue::Real),
            Type::NUMERIC => row
                .try_get::<_, Option<Numeric>>(index)?
                .map(|n| SqlValue::Real(n.0)),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                row.try_get::<_, Option<String>>(index)?.map(SqlValue::Text)
            }
            Type::TIMESTAMPTZ => row
                .try_get::<_, Option<DateTime<Utc>>>(index)?
                .map(|t| SqlValue::Text(sql_time(t))),
            Type::TIMESTAMP => row
                .try_get::<_, Option<NaiveDateTime>>(index)?
                .map(|t| SqlValue::Text(sql_time(t.and_utc()))),
            Type::DATE => row
                .try_get::<_, Option<NaiveDate>>(index)?
                .map(|d| SqlValue::Text(d.format("%Y-%m-%d").to_string())),
            Type::UUID => row
                .try_get::<_, Option<uuid::Uuid>>(index)?
                .map(|u| SqlValue::Text(u.to_string())),
            _ => return Ok(SqlValue::Null),
        }
        .unwrap_or(SqlValue::Null))
    };
    if !portable(row.columns()[index].type_()) {
        return Err(SqlError::new(
            SqlErrorKind::Conversion,
            format!(
                "column {} has type {}, which is not portable; cast it to text, bigint, double precision or boolean",
                row.columns()[index].name(),
                row.columns()[index].type_()
            ),
        ));
    }
    get(index).map_err(sql_error).map_err(|mut e| {
        e.kind = SqlErrorKind::Conversion;
        e
    })
}

fn portable(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::BOOL
            | Type::INT2
            | Type::INT4
            | Type::INT8
            | Type::FLOAT4
            | Type::FLOAT8
            | Type::NUMERIC
            | Type::TEXT
            | Type::VARCHAR
            | Type::BPCHAR
            | Type::NAME
            | Type::UNKNOWN
            | Type::TIMESTAMPTZ
            | Type::TIMESTAMP
            | Type::DATE
            | Type::UUID
    )
}

/// A `numeric` read as the nearest `f64`.
struct Numeric(f64);

impl<'a> FromSql<'a> for Numeric {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        decode_numeric(raw).map(Numeric)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

/// Reads NUMERIC's binary form (see `params::encode_numeric`) into the nearest `f64`, going
/// through its decimal text so the rounding is the standard library's.
pub(crate) fn decode_numeric(raw: &[u8]) -> Result<f64, Box<dyn Error + Sync + Send>> {
    let word = |i: usize| -> Result<u16, Box<dyn Error + Sync + Send>> {
        raw.get(i * 2..i * 2 + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "a truncated numeric".into())
    };
    let ndigits = usize::from(word(0)?);
    let weight = i32::from(word(1)? as i16);
    let sign = word(2)?;
    match sign {
        0xC000 => return Ok(f64::NAN),
        0xD000 => return Ok(f64::INFINITY),
        0xF000 => return Ok(f64::NEG_INFINITY),
        _ => {}
    }
    let mut text = String::with_capacity(ndigits * 4 + 8);
    if sign == 0x4000 {
        text.push('-');
    }
    text.push_str("0.");
    for i in 0..ndigits {
        text.push_str(&format!("{:04}", word(4 + i)?));
    }
    // The digits read as 0.d1d2... are worth 10 000^(weight + 1) times that.
    text.push_str(&format!("e{}", (weight + 1) * 4));
    Ok(text.parse::<f64>()?)
}
