pub mod health;
pub mod lag;
pub mod migrate;
pub mod rebuild;
pub mod schemas;
pub mod tail;
pub mod topics;
pub mod users;
