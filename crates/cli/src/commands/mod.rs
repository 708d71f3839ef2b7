//! One module per subcommand.

pub(crate) mod api_key;
pub(crate) mod bench;
pub(crate) mod dead_letters;
pub(crate) mod pause;
pub(crate) mod project;
pub(crate) mod rebuild;
pub(crate) mod relay;
pub(crate) mod serve;
pub(crate) mod status;
