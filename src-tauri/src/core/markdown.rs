//! Markdown → sanitized HTML for the chat view.
//!
//! pulldown-cmark renders CommonMark plus tables, strikethrough, task lists and math; ammonia
//! then keeps only the tags and attributes that renderer emits. Invariants:
//! - raw HTML in the input is never passed through: it is shown as text;
//! - nothing executable survives: no `<script>`, no event-handler attribute, no `style` except a
//!   table cell's `text-align`, and links only with `http`, `https` or `mailto` schemes;
//! - images become links (the CSP would block remote images anyway, and a link shows the alt text);
//! - a code block keeps one `language-<name>` class for the UI's highlighter; math keeps
//!   `math math-inline` / `math math-display` for the UI's KaTeX.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

/// Renders `text` as sanitized HTML (see the module invariants).
pub fn render(text: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_MATH
        | Options::ENABLE_GFM;
    let events = Parser::new_ext(text, options).map(defuse);
    let mut raw = String::with_capacity(text.len() + text.len() / 4);
    pulldown_cmark::html::push_html(&mut raw, events);
    sanitizer().clean(&raw).to_string()
}

/// Turns raw HTML into visible text and images into links.
fn defuse(event: Event<'_>) -> Event<'_> {
    match event {
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }),
        Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
        Event::Start(Tag::CodeBlock(pulldown_cmark::CodeBlockKind::Fenced(info))) => Event::Start(
            Tag::CodeBlock(pulldown_cmark::CodeBlockKind::Fenced(language_of(&info))),
        ),
        other => other,
    }
}

/// The first word of a fence's info string, reduced to characters a class name may hold.
fn language_of<'a>(info: &CowStr<'a>) -> CowStr<'a> {
    let word = info.split_whitespace().next().unwrap_or("");
    let clean: String = word
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "+#-_.".contains(*c))
        .take(32)
        .collect();
    CowStr::from(clean)
}

/// Whether `class` is exactly `language-<name>` with a safe name.
fn is_language_class(class: &str) -> bool {
    class.strip_prefix("language-").is_some_and(|name| {
        !name.is_empty()
            && name.len() <= 32
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+#-_.".contains(c))
    })
}

fn sanitizer() -> &'static ammonia::Builder<'static> {
    static SANITIZER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    SANITIZER.get_or_init(|| {
        let tags: HashSet<&str> = [
            "a",
            "blockquote",
            "br",
            "code",
            "del",
            "div",
            "em",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "hr",
            "input",
            "li",
            "ol",
            "p",
            "pre",
            "span",
            "strong",
            "table",
            "tbody",
            "td",
            "th",
            "thead",
            "tr",
            "ul",
        ]
        .into_iter()
        .collect();
        let mut attributes: HashMap<&str, HashSet<&str>> = HashMap::new();
        attributes.insert("a", ["href", "title"].into_iter().collect());
        attributes.insert("ol", ["start"].into_iter().collect());
        attributes.insert(
            "input",
            ["type", "checked", "disabled"].into_iter().collect(),
        );
        attributes.insert("th", ["style"].into_iter().collect());
        attributes.insert("td", ["style"].into_iter().collect());
        attributes.insert("code", ["class"].into_iter().collect());
        attributes.insert("span", ["class"].into_iter().collect());
        attributes.insert("div", ["class"].into_iter().collect());
        let mut builder = ammonia::Builder::default();
        builder
            .tags(tags)
            .tag_attributes(attributes)
            .generic_attributes(HashSet::new())
            .url_schemes(["http", "https", "mailto"].into_iter().collect())
            .url_relative(ammonia::UrlRelative::Deny)
            .link_rel(Some("noopener noreferrer nofollow"))
            .strip_comments(true)
            .attribute_filter(keep_attribute);
        builder
    })
}

/// Keeps only the attribute values the renderer itself produces.
fn keep_attribute<'u>(element: &str, attribute: &str, value: &'u str) -> Option<Cow<'u, str>> {
    let keep = match (element, attribute) {
        ("th" | "td", "style") => matches!(
            value,
            "text-align: left" | "text-align: center" | "text-align: right"
        ),
        ("code", "class") => is_language_class(value),
        ("span", "class") => matches!(value, "math math-inline" | "math math-display"),
        ("div", "class") => value.starts_with("markdown-alert-") && value.len() < 40,
        ("input", "type") => value == "checkbox",
        _ => true,
    };
    keep.then_some(Cow::Borrowed(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The attribute names inside real tags (text shows `<` as `&lt;`, so it is never matched).
    fn attributes_of_real_tags(html: &str) -> Vec<String> {
        let mut names = Vec::new();
        for tag in html.split('<').skip(1) {
            let inside = tag.split('>').next().unwrap_or("");
            let mut in_quotes = false;
            let mut word = String::new();
            for c in inside.chars().chain(std::iter::once(' ')) {
                match c {
                    '"' => in_quotes = !in_quotes,
                    '=' if !in_quotes => {
                        names.push(std::mem::take(&mut word));
                    }
                    c if c.is_whitespace() && !in_quotes => word.clear(),
                    c if !in_quotes => word.push(c),
                    _ => {}
                }
            }
        }
        names
    }

    #[test]
    fn renders_the_usual_markdown() {
        let html = render(
            "# Title\n\n**bold** ~~gone~~ `x`\n\n| a | b |\n|:-|-:|\n| 1 | 2 |\n\n- [x] done\n",
        );
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<strong>bold</strong>"), "{html}");
        assert!(html.contains("<del>gone</del>"), "{html}");
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains(r#"style="text-align: left""#), "{html}");
        assert!(html.contains(r#"type="checkbox""#), "{html}");
    }

    #[test]
    fn code_blocks_keep_a_safe_language_class() {
        let html = render("```rust title=x\nfn main() {}\n```\n");
        assert!(
            html.contains(r#"<pre><code class="language-rust">fn main() {}"#),
            "{html}"
        );
        let hostile = render("```\"onmouseover=alert(1)\nx\n```\n");
        assert!(!hostile.contains(" onmouseover"), "{hostile}");
        assert!(
            hostile.contains(r#"class="language-onmouseoveralert1""#),
            "{hostile}"
        );
    }

    #[test]
    fn math_is_marked_for_katex() {
        let html = render("inline $a^2$ and\n\n$$\\sum_i x_i$$\n");
        assert!(
            html.contains(r#"<span class="math math-inline">a^2</span>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<span class="math math-display">"#),
            "{html}"
        );
    }

    #[test]
    fn script_tags_are_shown_as_text() {
        let html = render("hi <script>alert(1)</script>\n\n<script>\nalert(2)\n</script>\n");
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn event_handlers_never_survive() {
        let html = render("<img src=x onerror=alert(1)>\n\n![pic](x onerror=alert(1))\n\n<a href=\"#\" onclick=\"x()\">a</a>");
        assert!(!html.contains("<img"), "{html}");
        for attribute in attributes_of_real_tags(&html) {
            assert!(!attribute.starts_with("on"), "{attribute} in {html}");
        }
    }

    #[test]
    fn javascript_links_lose_their_href() {
        for input in [
            "[click](javascript:alert(1))",
            "[click](JaVaScRiPt:alert(1))",
            "[click](  javascript:alert(1))",
            "<javascript:alert(1)>",
            "[click](data:text/html;base64,PHNjcmlwdD4=)",
            "[click](vbscript:msgbox)",
        ] {
            let html = render(input);
            let lower = html.to_ascii_lowercase();
            assert!(!lower.contains("href=\"javascript"), "{input} → {html}");
            assert!(!lower.contains("href=\"data"), "{input} → {html}");
            assert!(!lower.contains("href=\"vbscript"), "{input} → {html}");
        }
        let ok = render("[site](https://example.com/a?b=1)");
        assert!(ok.contains(r#"href="https://example.com/a?b=1""#), "{ok}");
        assert!(ok.contains(r#"rel="noopener noreferrer nofollow""#), "{ok}");
    }

    #[test]
    fn raw_html_is_escaped_not_interpreted() {
        let html = render("<iframe src=\"https://evil.example\"></iframe>\n\n<b style=\"x\">b</b>");
        assert!(!html.contains("<iframe"), "{html}");
        assert!(!html.contains("<b "), "{html}");
        assert!(html.contains("&lt;iframe"), "{html}");
    }

    #[test]
    fn styles_and_classes_are_pinned_to_renderer_values() {
        let html = render("| a |\n|---|\n| 1 |\n\n<span class=\"math math-inline\">x</span>");
        assert!(!html.contains("style=\""), "{html}");
        assert!(is_language_class("language-c++"));
        assert!(!is_language_class("language-"));
        assert!(!is_language_class("language-a b"));
        assert!(!is_language_class("x language-rust"));
    }

    #[test]
    fn one_megabyte_renders_and_stays_inert() {
        let unit = "Some *text* with `code` and <script>x</script> [l](javascript:y)\n\n";
        let input = unit.repeat(1_048_576 / unit.len() + 1);
        assert!(input.len() >= 1_048_576);
        let html = render(&input);
        assert!(html.len() > input.len() / 2);
        assert!(!html.contains("<script"));
        assert!(!html.to_ascii_lowercase().contains("href=\"javascript"));
        assert!(attributes_of_real_tags(&html).iter().all(|a| a == "rel"));
    }

    #[test]
    fn empty_and_whitespace_input_render_empty() {
        assert_eq!(render(""), "");
        assert_eq!(render("   \n"), "");
    }
}
