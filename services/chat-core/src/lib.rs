//! Everything the chat services share and nothing that speaks HTTP.
//!
//! The services (gateway, projector, chatctl) are thin shells around this crate:
//! configuration is read once into [`config::Settings`], clients for Kafka, the CQL
//! store and Redis are built from it by the functions in [`kafka`], [`cql`] and
//! [`redis_client`], and events cross process boundaries only through
//! [`codec::EventCodec`] (Avro, Confluent wire format, schemas from the registry). Every
//! binary stops on the same signals through [`shutdown`]. Security and administrative
//! events go to the audit trail through [`audit::AuditLog`].

pub mod audit;
pub mod aws_credentials;
pub mod codec;
pub mod config;
pub mod cql;
pub mod events;
pub mod healthcheck;
pub mod ids;
pub mod kafka;
pub mod live;
pub mod redis_client;
pub mod registry;
pub mod rules;
pub mod sealing;
pub mod search;
pub mod shutdown;
pub mod telemetry;
pub mod time;
pub mod topics;
