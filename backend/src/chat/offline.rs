//! [`OfflineTranslator`]: the [`Translator`] that needs nothing but the model — the
//! default, and the fallback of the language-model translator.

use async_trait::async_trait;
use causeway_estimators::model::ModelDocument;

use super::parser::Parser;
use super::{Conversation, Translation, Translator, TranslatorKind};

/// Translates with the offline [`Parser`] (English and Traditional Chinese).
#[derive(Clone, Copy, Debug, Default)]
pub struct OfflineTranslator;

impl OfflineTranslator {
    /// The translation, synchronously: parsing is a few microseconds of string
    /// work, so callers on the async runtime need no `spawn_blocking`.
    pub fn translate_now(
        &self,
        question: &str,
        model: &ModelDocument,
        conversation: &Conversation,
    ) -> Translation {
        Translation {
            parsed: Parser::new(model).parse(question, conversation),
            translator: TranslatorKind::Offline,
            note: None,
        }
    }
}

#[async_trait]
impl Translator for OfflineTranslator {
    async fn translate(
        &self,
        question: &str,
        model: &ModelDocument,
        conversation: &Conversation,
    ) -> Translation {
        self.translate_now(question, model, conversation)
    }
}
