pub mod health;
pub mod migrate;
pub mod schemas;
pub mod topics;
