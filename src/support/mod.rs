//! Leaf helpers with no knowledge of the rest of the crate: cron expressions and time zones
//! as users write them ([`cron`]), and `${ENV_VAR}` secret references ([`secrets`]).

pub mod cron;
pub mod secrets;
