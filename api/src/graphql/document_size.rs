//! How big a GraphQL document is once its fragments are expanded, measured without expanding
//! them: each fragment's size is computed once and reused wherever it is spread, so a document
//! whose 25 fragments each spread the next twice (2^25 fields) costs 25 steps to measure, not
//! 2^25. Counts saturate instead of overflowing; a fragment cycle (which validation refuses
//! later) counts as nothing rather than looping.

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};

/// How the fields of one selection set are counted.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Depth {
    /// Every field, nested ones included.
    All,
    /// The set's own fields only (through fragments), not their sub-selections.
    Top,
}

struct Counter<'a> {
    document: &'a ExecutableDocument,
    depth: Depth,
    /// The size of each fragment already measured; `None` while it is being measured.
    memo: HashMap<&'a str, Option<usize>>,
}

impl<'a> Counter<'a> {
    fn new(document: &'a ExecutableDocument, depth: Depth) -> Self {
        Self { document, depth, memo: HashMap::new() }
    }

    fn set(&mut self, set: &'a SelectionSet) -> usize {
        let mut total = 0usize;
        for item in &set.items {
            let n = match &item.node {
                Selection::Field(f) => match self.depth {
                    Depth::All => 1usize.saturating_add(self.set(&f.node.selection_set.node)),
                    Depth::Top => usize::from(f.node.name.node != "__typename"),
                },
                Selection::InlineFragment(f) => self.set(&f.node.selection_set.node),
                Selection::FragmentSpread(spread) => self.fragment(spread.node.fragment_name.node.as_str()),
            };
            total = total.saturating_add(n);
        }
        total
    }

    fn fragment(&mut self, name: &'a str) -> usize {
        match self.memo.get(name) {
            Some(Some(n)) => return *n,
            // A cycle: validation refuses the document; it adds nothing here.
            Some(None) => return 0,
            None => {}
        }
        let Some(fragment) = self.document.fragments.get(name) else {
            return 0;
        };
        self.memo.insert(name, None);
        let n = self.set(&fragment.node.selection_set.node);
        self.memo.insert(name, Some(n));
        n
    }
}

/// Every field selection of every operation of the document, after fragment expansion.
pub fn expanded_fields(document: &ExecutableDocument) -> usize {
    let mut counter = Counter::new(document, Depth::All);
    document
        .operations
        .iter()
        .map(|(_, op)| counter.set(&op.node.selection_set.node))
        .fold(0usize, usize::saturating_add)
}

/// The root fields of the operation `name` selects (or of the only operation) when it is a
/// mutation: one per mutation it runs, aliases and fragments included, `__typename` not.
/// `None` when the selected operation is not a mutation (or no operation is selected).
pub fn mutation_fields(document: &ExecutableDocument, name: Option<&str>) -> Option<usize> {
    use async_graphql::parser::types::DocumentOperations;
    let op = match (&document.operations, name) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name)?,
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next()?,
        _ => return None,
    };
    if op.node.ty != OperationType::Mutation {
        return None;
    }
    Some(Counter::new(document, Depth::Top).set(&op.node.selection_set.node))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> ExecutableDocument {
        async_graphql::parser::parse_query(q).unwrap()
    }

    /// The document of the fan-out attack: `levels` fragments, each spreading the next twice.
    fn fan_out(levels: usize) -> String {
        let mut q = String::from("{ ...F0 }");
        for i in 0..levels {
            q.push_str(&format!(" fragment F{i} on Query {{ ...F{n} ...F{n} }}", n = i + 1));
        }
        q.push_str(&format!(" fragment F{levels} on Query {{ __typename }}"));
        q
    }

    #[test]
    fn counts_nested_fields_through_fragments() {
        let doc = parse("{ a { b c } ...F ... on Query { d } } fragment F on Query { e { f } }");
        assert_eq!(expanded_fields(&doc), 6);
    }

    #[test]
    fn fan_out_is_measured_without_being_walked() {
        assert_eq!(expanded_fields(&parse(&fan_out(10))), 1024);
        assert_eq!(expanded_fields(&parse(&fan_out(25))), 1 << 25);
        // 2^100 saturates.
        assert_eq!(expanded_fields(&parse(&fan_out(100))), usize::MAX);
    }

    #[test]
    fn a_cycle_ends() {
        let doc = parse("{ ...A } fragment A on Query { a ...B } fragment B on Query { b ...A }");
        assert_eq!(expanded_fields(&doc), 2);
    }

    #[test]
    fn mutations_are_counted_per_field() {
        let doc = parse(
            "mutation { a: logout b: logout __typename ...M } fragment M on Mutation { c: logout ... { d: logout } }",
        );
        assert_eq!(mutation_fields(&doc, None), Some(4));
        let doc = parse("query Q { me { id } } mutation M { logout logout2: logout }");
        assert_eq!(mutation_fields(&doc, Some("M")), Some(2));
        assert_eq!(mutation_fields(&doc, Some("Q")), None);
        assert_eq!(mutation_fields(&doc, None), None);
    }
}
