//! Portable [`SqlParam`]s bound to whatever type PostgreSQL inferred for each placeholder.
//!
//! The portable SQL leaves types to the database, and PostgreSQL infers a type per placeholder
//! from its context (an `INTEGER` column, a `NUMERIC` expression, ...), so each parameter is
//! encoded for the type asked for: an `Int` fits `int2`, `int4`, `int8`, `numeric` or a float;
//! a `Real` fits `float4`, `float8` or `numeric`; booleans and integers convert as SQLite
//! would; `Null` fits anything. What cannot convert is a [`SqlErrorKind::Conversion`] error
//! naming the placeholder.

use std::error::Error;

use bytes::{BufMut, BytesMut};
use projector_sql::SqlParam;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

/// One portable parameter, encoded for the placeholder's inferred type.
#[derive(Debug)]
pub(crate) struct PgParam<'a>(pub(crate) SqlParam<'a>);

type BoxError = Box<dyn Error + Sync + Send>;

impl ToSql for PgParam<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match self.0 {
            SqlParam::Null => Ok(IsNull::Yes),
            SqlParam::Int(v) => int(v, ty, out),
            SqlParam::Real(v) => real(v, ty, out),
            SqlParam::Bool(v) => match *ty {
                Type::BOOL => v.to_sql(ty, out),
                Type::INT2 | Type::INT4 | Type::INT8 | Type::NUMERIC => int(i64::from(v), ty, out),
                _ if is_text(ty) => (if v { "true" } else { "false" }).to_sql(ty, out),
                _ => Err(mismatch("a boolean", ty)),
            },
            SqlParam::Text(v) => {
                if is_text(ty) {
                    v.to_sql(ty, out)
                } else {
                    Err(mismatch("text", ty))
                }
            }
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn is_text(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
    )
}

fn mismatch(what: &str, ty: &Type) -> BoxError {
    format!("cannot bind {what} to a parameter of type {ty}").into()
}

fn int(v: i64, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
    match *ty {
        Type::INT8 => v.to_sql(ty, out),
        Type::INT4 => i32::try_from(v)
            .map_err(|_| format!("{v} does not fit a parameter of type int4"))?
            .to_sql(ty, out),
        Type::INT2 => i16::try_from(v)
            .map_err(|_| format!("{v} does not fit a parameter of type int2"))?
            .to_sql(ty, out),
        Type::FLOAT8 => (v as f64).to_sql(ty, out),
        Type::FLOAT4 => (v as f32).to_sql(ty, out),
        Type::NUMERIC => {
            encode_numeric(&v.to_string(), out);
            Ok(IsNull::No)
        }
        Type::BOOL => (v != 0).to_sql(ty, out),
        _ if is_text(ty) => v.to_string().as_str().to_sql(ty, out),
        _ => Err(mismatch("an integer", ty)),
    }
}

fn real(v: f64, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
    match *ty {
        Type::FLOAT8 => v.to_sql(ty, out),
        Type::FLOAT4 => (v as f32).to_sql(ty, out),
        Type::NUMERIC => {
            if v.is_nan() {
                encode_special(NUMERIC_NAN, out);
            } else if v.is_infinite() {
                encode_special(if v > 0.0 { NUMERIC_PINF } else { NUMERIC_NINF }, out);
            } else {
                // `Display` prints the shortest decimal that reads back as `v`, never in
                // exponent notation: exactly the digits a NUMERIC should hold.
                encode_numeric(&v.to_string(), out);
            }
            Ok(IsNull::No)
        }
        _ if is_text(ty) => v.to_string().as_str().to_sql(ty, out),
        _ => Err(mismatch("a number", ty)),
    }
}

const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;

fn encode_special(sign: u16, out: &mut BytesMut) {
    out.put_i16(0);
    out.put_i16(0);
    out.put_u16(sign);
    out.put_u16(0);
}

/// Writes a plain decimal (`-?digits(.digits)?`) in NUMERIC's binary form: base-10 000 digits
/// aligned on the decimal point, a weight (the power of 10 000 of the first digit), a sign and
/// the count of decimal places.
pub(crate) fn encode_numeric(decimal: &str, out: &mut BytesMut) {
    let (negative, unsigned) = match decimal.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, decimal),
    };
    let (int_part, frac_part) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let int_part = int_part.trim_start_matches('0');
    let frac_part = frac_part.trim_end_matches('0');
    let dscale = frac_part.len() as u16;
    // Pad the integer part on the left and the fraction on the right to whole groups of four.
    let int_pad = (4 - int_part.len() % 4) % 4;
    let frac_pad = (4 - frac_part.len() % 4) % 4;
    let mut digits_text = String::with_capacity(int_pad + int_part.len() + frac_part.len() + 4);
    digits_text.extend(std::iter::repeat_n('0', int_pad));
    digits_text.push_str(int_part);
    digits_text.push_str(frac_part);
    digits_text.extend(std::iter::repeat_n('0', frac_pad));
    let int_groups = (int_pad + int_part.len()) / 4;
    let mut groups: Vec<i16> = digits_text
        .as_bytes()
        .chunks(4)
        .map(|chunk| {
            chunk
                .iter()
                .fold(0i16, |acc, d| acc * 10 + i16::from(d.saturating_sub(b'0')))
        })
        .collect();
    let mut weight = int_groups as i16 - 1;
    // Leading and trailing zero groups are implied by the weight and the scale.
    let leading = groups.iter().take_while(|g| **g == 0).count();
    groups.drain(..leading);
    weight -= leading as i16;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    out.put_i16(groups.len() as i16);
    out.put_i16(weight);
    out.put_u16(if negative && !groups.is_empty() {
        NUMERIC_NEG
    } else {
        NUMERIC_POS
    });
    out.put_u16(dscale);
    for group in groups {
        out.put_i16(group);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_store::values::decode_numeric;

    fn round_trip(text: &str) -> f64 {
        let mut out = BytesMut::new();
        encode_numeric(text, &mut out);
        decode_numeric(&out).expect("decodes")
    }

    #[test]
    fn numerics_round_trip() {
        for (text, value) in [
            ("0", 0.0),
            ("1", 1.0),
            ("-1", -1.0),
            ("10.25", 10.25),
            ("12345.678", 12345.678),
            ("-0.0001", -0.0001),
            ("0.00012", 0.00012),
            ("100000000", 1e8),
            ("123456789012.5", 123456789012.5),
        ] {
            assert_eq!(round_trip(text), value, "{text}");
        }
        for v in [0.1, 45.5, 1e-7, 9.99e15, -3.25] {
            assert_eq!(round_trip(&v.to_string()), v);
        }
    }
}
