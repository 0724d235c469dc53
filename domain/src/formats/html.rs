//! HTML pages: the main text. Scripts, styles, templates, the head and page furniture (`nav`,
//! `header`, `footer`, `aside`, `form`) are dropped; block elements and `<br>` end lines (blocks make no blank lines);
//! whitespace runs fold to one space except inside `<pre>`. When the page has a `<main>` or
//! `<article>`, only its text is kept.

use html5gum::{DefaultEmitter, Token, Tokenizer};

use super::join_lines;

const SKIPPED: &[&[u8]] = &[
    b"script",
    b"style",
    b"template",
    b"head",
    b"noscript",
    b"nav",
    b"header",
    b"footer",
    b"aside",
    b"form",
    b"svg",
    b"button",
    b"select",
    b"iframe",
    b"object",
];
const BLOCKS: &[&[u8]] = &[
    b"p",
    b"div",
    b"br",
    b"li",
    b"ul",
    b"ol",
    b"h1",
    b"h2",
    b"h3",
    b"h4",
    b"h5",
    b"h6",
    b"tr",
    b"table",
    b"blockquote",
    b"section",
    b"article",
    b"main",
    b"pre",
    b"dd",
    b"dt",
    b"dl",
    b"hr",
    b"figure",
    b"figcaption",
    b"body",
    b"title",
];
const VOID: &[&[u8]] = &[
    b"br", b"hr", b"img", b"input", b"meta", b"link", b"area", b"base", b"col", b"embed", b"source", b"track", b"wbr",
];

/// The main text of a page, as lines.
pub fn main_text(html: &str) -> String {
    let mut emitter = DefaultEmitter::default();
    emitter.naively_switch_states(true);
    let mut all = Lines::default();
    let mut main = Lines::default();
    let mut skip_depth = 0usize;
    let mut main_depth = 0usize;
    let mut pre_depth = 0usize;
    for token in Tokenizer::new_with_emitter(html, emitter).flatten() {
        match token {
            Token::StartTag(tag) => {
                let name = tag.name.0.to_ascii_lowercase();
                let void = tag.self_closing || VOID.contains(&name.as_slice());
                if SKIPPED.contains(&name.as_slice()) && !void {
                    skip_depth += 1;
                } else if skip_depth == 0 {
                    if BLOCKS.contains(&name.as_slice()) {
                        all.break_line();
                        main.break_line();
                    }
                    if !void {
                        if name == b"main" || name == b"article" {
                            main_depth += 1;
                        }
                        if name == b"pre" {
                            pre_depth += 1;
                        }
                    }
                }
            }
            Token::EndTag(tag) => {
                let name = tag.name.0.to_ascii_lowercase();
                if SKIPPED.contains(&name.as_slice()) {
                    skip_depth = skip_depth.saturating_sub(1);
                } else if skip_depth == 0 {
                    if BLOCKS.contains(&name.as_slice()) {
                        all.break_line();
                        main.break_line();
                    }
                    if name == b"main" || name == b"article" {
                        main_depth = main_depth.saturating_sub(1);
                    }
                    if name == b"pre" {
                        pre_depth = pre_depth.saturating_sub(1);
                    }
                }
            }
            Token::String(s) if skip_depth == 0 => {
                let text = String::from_utf8_lossy(&s.value.0);
                all.push(&text, pre_depth > 0);
                if main_depth > 0 {
                    main.push(&text, pre_depth > 0);
                }
            }
            _ => {}
        }
    }
    let main = main.finish();
    if main.is_empty() { all.finish() } else { main }
}

/// The targets of a page's links (`<a href>`), as written (relative ones included), in order.
pub fn links(html: &str) -> Vec<String> {
    let mut emitter = DefaultEmitter::default();
    emitter.naively_switch_states(true);
    let mut out = Vec::new();
    for token in Tokenizer::new_with_emitter(html, emitter).flatten() {
        if let Token::StartTag(tag) = token
            && tag.name.0.eq_ignore_ascii_case(b"a")
            && let Some(href) = tag.attributes.get(b"href".as_slice())
        {
            let href = String::from_utf8_lossy(&href.value.0).trim().to_owned();
            if !href.is_empty() {
                out.push(href);
            }
        }
    }
    out
}

#[derive(Default)]
struct Lines {
    lines: Vec<String>,
    current: String,
    /// The current line came from `<pre>`: its indentation is kept.
    preformatted: bool,
}

impl Lines {
    fn push(&mut self, text: &str, pre: bool) {
        self.preformatted = pre;
        if pre {
            let mut parts = text.split('\n');
            if let Some(first) = parts.next() {
                self.current.push_str(first);
            }
            for part in parts {
                self.end_line(false);
                self.current.push_str(part);
            }
            return;
        }
        for (i, word) in text.split(char::is_whitespace).enumerate() {
            if i > 0 && !self.current.ends_with(' ') && !self.current.is_empty() {
                self.current.push(' ');
            }
            self.current.push_str(word);
        }
    }

    /// Ends the current line at a block boundary; a boundary after an empty line adds none.
    fn break_line(&mut self) {
        if !self.current.trim().is_empty() {
            self.end_line(!self.preformatted);
        }
        self.current.clear();
    }

    fn end_line(&mut self, trim_start: bool) {
        let line = std::mem::take(&mut self.current);
        self.lines.push(if trim_start { line.trim().to_owned() } else { line.trim_end().to_owned() });
    }

    fn finish(mut self) -> String {
        self.break_line();
        join_lines(self.lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_text_without_scripts_styles_or_furniture() {
        let page = r#"<!doctype html><html lang="ur"><head><title>مرثیہ</title><style>p{color:red}</style>
            <script>var x = "<p>not text</p>";</script></head><body><nav>گھر | فہرست</nav>
            <main><h1>مرثیہ انیس</h1><p>جب قطع کی   مسافتِ
            شب آفتاب نے</p><p>جلوہ کیا سحر کے رخِ &amp; بے حجاب نے<br>دوسری</p></main>
            <footer>© 2026</footer></body></html>"#;
        assert_eq!(main_text(page), "مرثیہ انیس\nجب قطع کی مسافتِ شب آفتاب نے\nجلوہ کیا سحر کے رخِ & بے حجاب نے\nدوسری");
    }

    #[test]
    fn a_page_without_main_keeps_its_body_text() {
        let page = "<body><div>ایک</div><script>alert(1)</script><div>دو</div><pre>a\n  b</pre></body>";
        assert_eq!(main_text(page), "ایک\nدو\na\n  b");
    }
}
