//! One partition's full-text index: a Tantivy index in its own directory, written only
//! by this process, that records in each commit how far into the partition it got.
//!
//! That offset, not the consumer group's, is where reading resumes, so the index and its
//! position can never disagree: a record is in the index exactly when its offset is
//! below [`Shard::next_offset`]. Deleting the directory rebuilds the shard from the
//! beginning of the partition.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use chat_core::events::{ConversationEvent, Logged, MessageKind, Payload};
use chat_core::search::{SearchHit, SortKey};
use serde::{Deserialize, Serialize};
use tantivy::collector::TopDocs;
use tantivy::directory::MmapDirectory;
use tantivy::query::{BooleanQuery, Occur, Query, RangeQuery, TermQuery, TermSetQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term,
};
use uuid::Uuid;

use super::fields::{self, Fields};
use super::SearchError;

/// Memory for a shard's writer before it flushes a segment: Tantivy's smallest budget,
/// since a process holds one writer per partition.
const WRITER_BUDGET_BYTES: usize = 15_000_000;

/// The longest highlight: a fragment of the body around the matches.
const HIGHLIGHT_CHARS: usize = 160;

/// What a commit records about the shard (its payload, JSON).
#[derive(Serialize, Deserialize)]
struct Position {
    partition: i32,
    next_offset: i64,
}

/// A message as indexed: enough to find it again, order it and rewrite it on an edit.
#[derive(Clone)]
struct Indexed {
    conversation_id: Uuid,
    sender_id: Uuid,
    seq: i64,
    sort_key: SortKey,
    body: String,
    filenames: String,
}

pub struct Shard {
    pub partition: i32,
    index: Index,
    reader: IndexReader,
    writer: Mutex<Writer>,
    fields: Fields,
}

struct Writer {
    inner: IndexWriter,
    next_offset: i64,
}

impl Shard {
    /// Open the shard in `dir`, creating it when there is none.
    pub fn open(dir: &Path, partition: i32) -> Result<Self, SearchError> {
        std::fs::create_dir_all(dir).map_err(|e| SearchError::Directory(dir.into(), e))?;
        let directory = MmapDirectory::open(dir).map_err(tantivy::TantivyError::from)?;
        let (schema, fields) = fields::schema();
        let index = match Index::open_or_create(directory, schema.clone()) {
            Ok(index) => index,
            // An index of an older layout (before `sender_id`): it is derived data, so
            // it is dropped and rebuilt from the log rather than migrated.
            Err(tantivy::TantivyError::SchemaError(why)) => {
                tracing::warn!(dir = %dir.display(), %why, "search index of an older layout: rebuilding it from the log");
                std::fs::remove_dir_all(dir).map_err(|e| SearchError::Directory(dir.into(), e))?;
                std::fs::create_dir_all(dir).map_err(|e| SearchError::Directory(dir.into(), e))?;
                let directory = MmapDirectory::open(dir).map_err(tantivy::TantivyError::from)?;
                Index::create(directory, schema, tantivy::IndexSettings::default())?
            }
            Err(e) => return Err(e.into()),
        };
        fields::register_tokenizer(&index);
        let next_offset = match index.load_metas()?.payload {
            None => 0,
            Some(text) => {
                let at: Position = serde_json::from_str(&text)
                    .map_err(|e| SearchError::Payload(dir.into(), e.to_string()))?;
                if at.partition != partition {
                    return Err(SearchError::Payload(
                        dir.into(),
                        format!("it holds partition {}, not {partition}", at.partition),
                    ));
                }
                at.next_offset
            }
        };
        let inner = index.writer_with_num_threads(1, WRITER_BUDGET_BYTES)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            partition,
            index,
            reader,
            writer: Mutex::new(Writer { inner, next_offset }),
            fields,
        })
    }

    /// The first offset of the partition not in the index: where reading resumes.
    pub fn next_offset(&self) -> i64 {
        self.lock().next_offset
    }

    /// Index this partition's records, in log order, and commit them with the offset
    /// after the last one. Records the index already holds are skipped, so applying a
    /// chunk twice changes nothing.
    pub fn apply(&self, records: &[Logged<ConversationEvent>]) -> Result<(), SearchError> {
        let mut writer = self.lock();
        let searcher = self.reader.searcher();
        // Messages added in this batch, which the searcher cannot see before the commit.
        let mut added: HashMap<Uuid, Indexed> = HashMap::new();
        let mut last = None;
        for r in records {
            if r.offset < writer.next_offset {
                continue;
            }
            last = Some(r.offset);
            let e = &r.event;
            match &e.payload {
                Payload::MessageSent(m) if m.kind != MessageKind::System => {
                    let doc = Indexed {
                        conversation_id: e.conversation_id.0,
                        sender_id: e.actor_id.0,
                        seq: r.offset,
                        sort_key: SortKey::new(e.occurred_at.0, r.partition, r.offset),
                        body: m.body.clone(),
                        filenames: m
                            .attachments
                            .iter()
                            .map(|a| a.name.as_str())
                            .collect::<Vec<_>>()
                            .join(" "),
                    };
                    self.replace(&writer.inner, m.message_id.0, &doc)?;
                    added.insert(m.message_id.0, doc);
                }
                Payload::MessageEdited {
                    message_id, body, ..
                } => {
                    let id = message_id.0;
                    let before = match added.get(&id) {
                        Some(doc) => Some(doc.clone()),
                        None => self.stored(&searcher, id)?,
                    };
                    // An edit of a message this index never held (a system message, or
                    // one refused upstream) has nothing to rewrite.
                    if let Some(mut doc) = before {
                        doc.body = body.clone();
                        self.replace(&writer.inner, id, &doc)?;
                        added.insert(id, doc);
                    }
                }
                Payload::MessageDeleted { message_id, .. } => {
                    writer.inner.delete_term(self.id_term(message_id.0));
                    added.remove(&message_id.0);
                }
                // Erasure: every document the user wrote goes (the delete also covers
                // what this batch added before it).
                Payload::ContentErased { user_id } => {
                    writer.inner.delete_term(self.sender_term(user_id.0));
                    added.retain(|_, doc| doc.sender_id != user_id.0);
                }
                // Retention: everything older than `before`, but what held users wrote.
                Payload::ContentExpired { before, kept_users } => {
                    let cutoff = SortKey::new(before.0, 0, 0).0;
                    let older: Box<dyn Query> = Box::new(RangeQuery::new(
                        std::ops::Bound::Unbounded,
                        std::ops::Bound::Excluded(Term::from_field_i64(
                            self.fields.sort_key,
                            cutoff,
                        )),
                    ));
                    let mut clauses = vec![(Occur::Must, older)];
                    for u in kept_users {
                        clauses.push((
                            Occur::MustNot,
                            Box::new(TermQuery::new(
                                self.sender_term(u.0),
                                IndexRecordOption::Basic,
                            )) as Box<dyn Query>,
                        ));
                    }
                    writer
                        .inner
                        .delete_query(Box::new(BooleanQuery::new(clauses)))?;
                    let kept: std::collections::HashSet<Uuid> =
                        kept_users.iter().map(|u| u.0).collect();
                    added
                        .retain(|_, doc| doc.sort_key.0 >= cutoff || kept.contains(&doc.sender_id));
                }
                // A conversation's own retention: its documents older than `before`.
                Payload::ConversationContentExpired { before } => {
                    let c = e.conversation_id.0;
                    let cutoff = SortKey::new(before.0, 0, 0).0;
                    let older: Box<dyn Query> = Box::new(RangeQuery::new(
                        std::ops::Bound::Unbounded,
                        std::ops::Bound::Excluded(Term::from_field_i64(
                            self.fields.sort_key,
                            cutoff,
                        )),
                    ));
                    let of_conversation: Box<dyn Query> = Box::new(TermQuery::new(
                        Term::from_field_text(self.fields.conversation_id, &c.to_string()),
                        IndexRecordOption::Basic,
                    ));
                    writer.inner.delete_query(Box::new(BooleanQuery::new(vec![
                        (Occur::Must, older),
                        (Occur::Must, of_conversation),
                    ])))?;
                    added.retain(|_, doc| doc.conversation_id != c || doc.sort_key.0 >= cutoff);
                }
                _ => {}
            }
        }
        let Some(last) = last else {
            return Ok(());
        };
        let position = serde_json::to_string(&Position {
            partition: self.partition,
            next_offset: last + 1,
        })
        .map_err(|e| SearchError::Payload(Default::default(), e.to_string()))?;
        let mut commit = writer.inner.prepare_commit()?;
        commit.set_payload(&position);
        commit.commit()?;
        writer.next_offset = last + 1;
        self.reader.reload()?;
        Ok(())
    }

    /// This shard's newest `limit` matches of `query` among `conversations`, older than
    /// `before` when given.
    pub fn search(
        &self,
        query: &dyn Query,
        conversations: &[Uuid],
        before: Option<SortKey>,
        limit: usize,
    ) -> Result<Vec<SearchHit>, SearchError> {
        let f = &self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![
            (Occur::Must, query.box_clone()),
            (
                Occur::Must,
                Box::new(TermSetQuery::new(conversations.iter().map(|c| {
                    Term::from_field_text(f.conversation_id, &c.to_string())
                }))),
            ),
        ];
        if let Some(before) = before {
            clauses.push((
                Occur::Must,
                Box::new(RangeQuery::new(
                    std::ops::Bound::Unbounded,
                    std::ops::Bound::Excluded(Term::from_field_i64(f.sort_key, before.0)),
                )),
            ));
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let top = searcher.search(
            &query,
            &TopDocs::with_limit(limit).order_by_fast_field::<i64>(fields::SORT_KEY, Order::Desc),
        )?;
        let mut snippets = SnippetGenerator::create(&searcher, &query, f.body)?;
        snippets.set_max_num_chars(HIGHLIGHT_CHARS);
        let mut hits = Vec::with_capacity(top.len());
        for (_, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            let Some((id, indexed)) = self.read(&doc) else {
                continue;
            };
            let snippet = snippets.snippet_from_doc(&doc);
            let highlights = if snippet.highlighted().is_empty() {
                vec![]
            } else if indexed.body.chars().count() <= HIGHLIGHT_CHARS {
                // A short message is its own best highlight (a fragment ends at its last
                // word, dropping trailing punctuation).
                vec![indexed.body.clone()]
            } else {
                vec![snippet.fragment().to_string()]
            };
            hits.push(SearchHit {
                message_id: id,
                conversation_id: indexed.conversation_id,
                seq: indexed.seq,
                sort_key: indexed.sort_key,
                highlights,
            });
        }
        Ok(hits)
    }

    /// Documents in the index now, and its size on disk (for the figures and metrics).
    pub fn size(&self) -> (u64, u64) {
        let searcher = self.reader.searcher();
        let bytes = searcher
            .space_usage()
            .map(|u| u.total().get_bytes())
            .unwrap_or(0);
        (searcher.num_docs(), bytes)
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    pub fn fields(&self) -> Fields {
        self.fields
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Writer> {
        // A panic while holding the lock left at worst an uncommitted batch, which the
        // next commit or a restart (from the last committed offset) sets right.
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn id_term(&self, id: Uuid) -> Term {
        Term::from_field_text(self.fields.message_id, &id.to_string())
    }

    fn sender_term(&self, user: Uuid) -> Term {
        Term::from_field_text(self.fields.sender_id, &user.to_string())
    }

    /// Delete any earlier version of message `id` and add `doc` in its place.
    fn replace(&self, writer: &IndexWriter, id: Uuid, doc: &Indexed) -> Result<(), SearchError> {
        let f = &self.fields;
        writer.delete_term(self.id_term(id));
        let mut d = TantivyDocument::default();
        d.add_text(f.message_id, id.to_string());
        d.add_text(f.conversation_id, doc.conversation_id.to_string());
        d.add_i64(f.seq, doc.seq);
        d.add_i64(f.sort_key, doc.sort_key.0);
        d.add_text(f.body, &doc.body);
        d.add_text(f.filenames, &doc.filenames);
        d.add_text(f.sender_id, doc.sender_id.to_string());
        writer.add_document(d)?;
        Ok(())
    }

    /// Message `id` as the committed index holds it.
    fn stored(
        &self,
        searcher: &tantivy::Searcher,
        id: Uuid,
    ) -> Result<Option<Indexed>, SearchError> {
        let query = TermQuery::new(self.id_term(id), IndexRecordOption::Basic);
        let found: Vec<(f32, DocAddress)> =
            searcher.search(&query, &TopDocs::with_limit(1).order_by_score())?;
        let Some((_, address)) = found.into_iter().next() else {
            return Ok(None);
        };
        let doc: TantivyDocument = searcher.doc(address)?;
        Ok(self.read(&doc).map(|(_, indexed)| indexed))
    }

    fn read(&self, doc: &TantivyDocument) -> Option<(Uuid, Indexed)> {
        let f = &self.fields;
        let text = |field| doc.get_first(field).and_then(|v| v.as_str());
        let number = |field| doc.get_first(field).and_then(|v| v.as_i64());
        Some((
            text(f.message_id)?.parse().ok()?,
            Indexed {
                conversation_id: text(f.conversation_id)?.parse().ok()?,
                sender_id: text(f.sender_id)
                    .and_then(|t| t.parse().ok())
                    .unwrap_or_default(),
                seq: number(f.seq)?,
                sort_key: SortKey(number(f.sort_key)?),
                body: text(f.body).unwrap_or_default().to_string(),
                filenames: text(f.filenames).unwrap_or_default().to_string(),
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::events::{MessageSent, Payload};
    use chat_core::ids::{ConversationId, MessageId, UserId};
    use chat_core::time::UnixMillis;
    use tantivy::query::QueryParser;

    fn logged(offset: i64, actor: Uuid, at: i64, payload: Payload) -> Logged<ConversationEvent> {
        Logged {
            partition: 0,
            offset,
            event: ConversationEvent {
                event_id: Uuid::new_v4(),
                conversation_id: ConversationId(Uuid::from_u128(1)),
                actor_id: UserId(actor),
                occurred_at: UnixMillis(at),
                gateway_id: "t".into(),
                payload,
                sealed: None,
            },
        }
    }

    fn sent(offset: i64, actor: Uuid, at: i64, body: &str) -> Logged<ConversationEvent> {
        logged(
            offset,
            actor,
            at,
            Payload::MessageSent(MessageSent {
                message_id: MessageId(Uuid::new_v4()),
                client_msg_id: format!("c{offset}"),
                kind: MessageKind::Text,
                body: body.into(),
                reply_to: None,
                attachments: vec![],
                thread_root: None,
            }),
        )
    }

    fn found(shard: &Shard, q: &str) -> usize {
        let parser = QueryParser::for_index(shard.index(), vec![shard.fields().body]);
        let query = parser.parse_query(q).unwrap();
        shard
            .search(query.as_ref(), &[Uuid::from_u128(1)], None, 50)
            .unwrap()
            .len()
    }

    #[test]
    fn erasure_and_expiry_delete_what_they_name_and_keep_what_a_hold_keeps() {
        let dir = std::env::temp_dir().join(format!("shard-{}", Uuid::new_v4().simple()));
        let shard = Shard::open(&dir, 0).unwrap();
        let (alice, bob, carol) = (Uuid::from_u128(7), Uuid::from_u128(8), Uuid::from_u128(9));
        let (old, new) = (1_000_000_000_000, 1_700_000_000_000);
        shard
            .apply(&[
                sent(0, alice, old, "apple old"),
                sent(1, bob, old, "apple old"),
                sent(2, carol, old, "apple old"),
                sent(3, bob, new, "apple new"),
                sent(4, alice, new, "pear new"),
            ])
            .unwrap();
        assert_eq!(found(&shard, "apple"), 4);
        shard
            .apply(&[
                logged(
                    5,
                    Uuid::nil(),
                    new,
                    Payload::ContentErased {
                        user_id: UserId(alice),
                    },
                ),
                // In the same batch as the erasure, and after it: kept.
                sent(6, bob, new, "pear later"),
            ])
            .unwrap();
        assert_eq!(found(&shard, "apple"), 3);
        assert_eq!(
            found(&shard, "pear"),
            1,
            "alice's pear is gone, bob's later one stays"
        );
        shard
            .apply(&[logged(
                7,
                Uuid::nil(),
                new,
                Payload::ContentExpired {
                    before: UnixMillis(old + 1),
                    kept_users: vec![UserId(carol)],
                },
            )])
            .unwrap();
        assert_eq!(
            found(&shard, "apple"),
            2,
            "bob's old one expired; carol's is held"
        );
        assert_eq!(found(&shard, "old"), 1);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_conversations_expiry_deletes_only_its_older_documents() {
        let dir = std::env::temp_dir().join(format!("shard-{}", Uuid::new_v4().simple()));
        let shard = Shard::open(&dir, 0).unwrap();
        let alice = Uuid::from_u128(7);
        let (old, new) = (1_000_000_000_000, 1_700_000_000_000);
        let mut elsewhere = sent(2, alice, old, "apple elsewhere");
        elsewhere.event.conversation_id = ConversationId(Uuid::from_u128(2));
        shard
            .apply(&[
                sent(0, alice, old, "apple old"),
                sent(1, alice, new, "apple new"),
                elsewhere,
            ])
            .unwrap();
        let in_both = |q: &str| {
            let parser = QueryParser::for_index(shard.index(), vec![shard.fields().body]);
            let query = parser.parse_query(q).unwrap();
            shard
                .search(
                    query.as_ref(),
                    &[Uuid::from_u128(1), Uuid::from_u128(2)],
                    None,
                    50,
                )
                .unwrap()
                .len()
        };
        assert_eq!(in_both("apple"), 3);
        shard
            .apply(&[
                logged(
                    3,
                    Uuid::nil(),
                    new,
                    Payload::ConversationContentExpired {
                        before: UnixMillis(old + 1),
                    },
                ),
                // In the same batch, after the expiry: kept.
                sent(4, alice, new, "apple later"),
            ])
            .unwrap();
        assert_eq!(
            found(&shard, "apple"),
            2,
            "conversation 1 keeps its new ones"
        );
        assert_eq!(found(&shard, "old"), 0);
        assert_eq!(in_both("elsewhere"), 1, "another conversation is untouched");
        std::fs::remove_dir_all(dir).ok();
    }
}
