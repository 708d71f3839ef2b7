//! The routes, one module per area, each returning its documented router.

pub(crate) mod admin;
pub(crate) mod customers;
pub(crate) mod health;
pub(crate) mod issues;
pub(crate) mod orders;
pub(crate) mod params;
pub(crate) mod path;
pub(crate) mod problems;
pub(crate) mod products;
pub(crate) mod reports;
