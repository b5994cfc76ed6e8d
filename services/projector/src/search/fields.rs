//! The search index's schema, and how its text is cut into words.

use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STORED, STRING,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer,
};
use tantivy::Index;

/// The name of the fast field results are ordered by.
pub const SORT_KEY: &str = "sort_key";

/// Words are runs of letters and digits in any script, lower-cased and with accents
/// folded (`Café` finds `cafe`). No stemming: stemmers are per language, and a chat
/// mixes languages. Scripts written without spaces (Chinese, Japanese, Thai) are one
/// word per run, a known weakness.
const TOKENIZER: &str = "chat";

#[derive(Clone, Copy)]
pub struct Fields {
    pub message_id: Field,
    pub conversation_id: Field,
    pub seq: Field,
    pub sort_key: Field,
    pub body: Field,
    pub filenames: Field,
    /// v1.2: who wrote it, so an erasure deletes their documents.
    pub sender_id: Field,
}

pub fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let words = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let fields = Fields {
        message_id: b.add_text_field("message_id", STRING | STORED),
        conversation_id: b.add_text_field("conversation_id", STRING | STORED),
        seq: b.add_i64_field("seq", STORED),
        sort_key: b.add_i64_field(SORT_KEY, INDEXED | FAST | STORED),
        body: b.add_text_field("body", words.clone()),
        filenames: b.add_text_field("filenames", words),
        sender_id: b.add_text_field("sender_id", STRING | STORED),
    };
    (b.build(), fields)
}

/// Make [`TOKENIZER`] known to `index` (done at every open: tokenizers are code, not
/// stored in the index).
pub fn register_tokenizer(index: &Index) {
    let analyzer = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build();
    index.tokenizers().register(TOKENIZER, analyzer);
}
