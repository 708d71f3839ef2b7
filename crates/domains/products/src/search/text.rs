//! The text part of a product search: the user's words, stemmed as the index stems them, each
//! of which a hit must match in its name, tags or description, forgiving typos in longer
//! words; quoted phrases match in order. Also the terms a snippet highlights.

use std::collections::BTreeMap;

use projector_search::tantivy::Searcher;
use projector_search::tantivy::query::{
    BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, PhraseQuery, Query, TermQuery,
};
use projector_search::tantivy::schema::{Field, IndexRecordOption};
use projector_search::tantivy::tokenizer::TextAnalyzer;
use projector_search::tantivy::{Score, Term};

/// Typos forgiven in a word of `length` characters: none below five, one up to eight, two
/// from nine (a common rule of product search: short words have too many near neighbours).
pub(crate) fn typos_allowed(length: usize) -> u8 {
    match length {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

/// The most terms a typo'd word expands to when a snippet looks for it.
const EXPANSIONS_MAX: usize = 16;

/// One word of the query: its stem, and the typos forgiven in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Word {
    pub(crate) stem: String,
    pub(crate) typos: u8,
}

/// The user's text, read: single words, and phrases (what was between double quotes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Text {
    pub(crate) words: Vec<Word>,
    pub(crate) phrases: Vec<Vec<String>>,
}

impl Text {
    /// Reads `text` with `analyzer` (the text fields' tokenizer). A quote left open runs to
    /// the end; anything that is not a word (punctuation, operators) is passed over.
    pub(crate) fn read(text: &str, analyzer: &mut TextAnalyzer) -> Self {
        let mut read = Text::default();
        for (index, part) in text.split('"').enumerate() {
            let tokens = tokens(part, analyzer);
            let quoted = index % 2 == 1;
            match tokens.as_slice() {
                [] => {}
                [_, _, ..] if quoted => {
                    read.phrases
                        .push(tokens.into_iter().map(|(stem, _)| stem).collect());
                }
                _ => read
                    .words
                    .extend(tokens.into_iter().map(|(stem, length)| Word {
                        stem,
                        typos: match quoted {
                            true => 0,
                            false => typos_allowed(length),
                        },
                    })),
            }
        }
        read
    }

    /// Whether there is nothing to look for.
    pub(crate) fn is_empty(&self) -> bool {
        self.words.is_empty() && self.phrases.is_empty()
    }

    /// The query: every word and every phrase must match, each in any of `fields` (a field
    /// and its weight); an exact word scores above a typo'd one.
    ///
    /// A word the index holds (in any of the fields) is taken as meant: typos are forgiven
    /// only in words it does not hold, which spares the walk of the term dictionary that a
    /// typo costs on every query of known words.
    pub(crate) fn query(
        &mut self,
        searcher: &Searcher,
        fields: &[(Field, Score)],
    ) -> Box<dyn Query> {
        for word in &mut self.words {
            if word.typos > 0 && known(searcher, fields, &word.stem) {
                word.typos = 0;
            }
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for word in &self.words {
            let mut anywhere: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for &(field, weight) in fields {
                let term = Term::from_field_text(field, &word.stem);
                anywhere.push((
                    Occur::Should,
                    boosted(
                        TermQuery::new(term.clone(), IndexRecordOption::WithFreqs),
                        weight,
                    ),
                ));
                if word.typos > 0 {
                    anywhere.push((
                        Occur::Should,
                        boosted(FuzzyTermQuery::new(term, word.typos, true), weight * 0.5),
                    ));
                }
            }
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(anywhere))));
        }
        for phrase in &self.phrases {
            let anywhere = fields
                .iter()
                .map(|&(field, weight)| {
                    let terms = phrase
                        .iter()
                        .map(|stem| Term::from_field_text(field, stem))
                        .collect();
                    (Occur::Should, boosted(PhraseQuery::new(terms), weight))
                })
                .collect();
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(anywhere))));
        }
        Box::new(BooleanQuery::new(clauses))
    }

    /// The terms of `field` a snippet highlights, each with its weight: every stem of the
    /// query, and what each typo'd word matches in the index.
    pub(crate) fn highlighted(&self, searcher: &Searcher, field: Field) -> BTreeMap<String, Score> {
        let mut terms = BTreeMap::new();
        for stem in self.phrases.iter().flatten() {
            terms.insert(stem.clone(), 1.0);
        }
        for word in &self.words {
            terms.insert(word.stem.clone(), 1.0);
            if word.typos > 0 {
                let term = Term::from_field_text(field, &word.stem);
                for near in expansions(searcher, field, &term, word.typos) {
                    terms.entry(near).or_insert(0.5);
                }
            }
        }
        terms
    }
}

/// Whether any of `fields` holds `stem` in a live document (a term of deleted documents only
/// may count, which merely skips the typos).
fn known(searcher: &Searcher, fields: &[(Field, Score)], stem: &str) -> bool {
    fields.iter().any(|&(field, _)| {
        searcher
            .doc_freq(&Term::from_field_text(field, stem))
            .is_ok_and(|n| n > 0)
    })
}

/// The tokens of `text`: each stem and the length in characters of the word it came from.
fn tokens(text: &str, analyzer: &mut TextAnalyzer) -> Vec<(String, usize)> {
    let mut stream = analyzer.token_stream(text);
    let mut tokens = Vec::new();
    while let Some(token) = stream.next() {
        let length = text
            .get(token.offset_from..token.offset_to)
            .map_or(token.text.len(), |word| word.chars().count());
        tokens.push((token.text.clone(), length));
    }
    tokens
}

fn boosted(query: impl Query, weight: Score) -> Box<dyn Query> {
    Box::new(BoostQuery::new(Box::new(query), weight))
}

/// The terms of `field` within `typos` edits of `term`, at most [`EXPANSIONS_MAX`]. A segment
/// that cannot be read gives none: a snippet is a courtesy, never a reason to fail.
fn expansions(searcher: &Searcher, field: Field, term: &Term, typos: u8) -> Vec<String> {
    let Ok(automaton) = FuzzyTermQuery::new(term.clone(), typos, true).automaton() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for segment in searcher.segment_readers() {
        let Ok(inverted) = segment.inverted_index(field) else {
            continue;
        };
        let Ok(mut stream) = inverted.terms().search(&automaton).into_stream() else {
            continue;
        };
        while stream.advance() && found.len() < EXPANSIONS_MAX {
            if let Ok(text) = std::str::from_utf8(stream.key()) {
                found.push(text.to_owned());
            }
        }
    }
    found
}
