pub mod health;
pub mod migrate;
pub mod rebuild;
pub mod schemas;
pub mod topics;
