//! The hall screen's HTML (电子屏): today's totals, cases by category, the flows between the nine
//! cities, verifications by licence type. Rendered whole on the server; the screen's script
//! fetches it again when the figures change and swaps `#figures` in place.

use std::fmt::Write as _;

use crate::catalog::Catalog;
use crate::server::web::escape;
use crate::stats::{Report, UNKNOWN};
use crate::time::{format_cst, UnixTime};

/// Licence types shown (the most verified first).
const TOP_LTYPES: usize = 15;
/// Heat levels of the flow matrix's cells (CSS classes `heat-0` … `heat-5`).
const HEAT_LEVELS: u64 = 5;

/// The whole page for `report`, made at `now`.
pub fn render(report: &Report, version: u64, now: UnixTime, catalog: &Catalog) -> String {
    let mut h = String::with_capacity(16 * 1024);
    h.push_str(
        "<!doctype html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>一圈通办 · 电子屏 — Cross-city services screen</title>\n\
         <link rel=\"icon\" href=\"/screen/icon.svg\">\n\
         <link rel=\"stylesheet\" href=\"/screen/screen.css\">\n\
         <script src=\"/screen/screen.js\" defer></script>\n</head>\n<body>\n\
         <header class=\"top\">\n<h1>武汉都市圈 · 一圈通办 <span lang=\"en\">Wuhan Metropolitan Area · \
         Cross-city services</span></h1>\n<p class=\"now\"><span id=\"clock\" aria-hidden=\"true\"></span> \
         <span id=\"live\" data-live=\"false\"><span aria-hidden=\"true\">●</span> 实时 <span lang=\"en\">Live</span></span></p>\n\
         </header>\n",
    );
    let _ = writeln!(
        h,
        "<main id=\"figures\" data-version=\"{version}\" data-day=\"{day}\">",
        day = escape(&report.day)
    );
    totals(&mut h, report);
    h.push_str("<div class=\"panels\">\n");
    categories(&mut h, report);
    flows(&mut h, report, catalog);
    licence_types(&mut h, report, catalog);
    h.push_str("</div>\n");
    let _ = write!(
        h,
        "<p class=\"source\">{day} · 数据来自网关审计日志，不含个人信息 <span lang=\"en\">From the \
         gateway's audit log; no personal data</span> · 更新于 <span lang=\"en\">updated</span> \
         <time id=\"updated\">{updated}</time></p>\n</main>\n</body>\n</html>\n",
        day = escape(&report.day),
        updated = escape(format_cst(now).get(11..).unwrap_or_default()),
    );
    h
}

fn totals(h: &mut String, report: &Report) {
    let e = &report.figures.exchanges;
    let v = &report.figures.verifications;
    h.push_str("<section class=\"totals\" aria-label=\"今日合计 Today's totals\">\n");
    for (id, class, zh, en, value) in [
        (
            "total-exchanges",
            "cases",
            "今日跨城办件",
            "Cases today",
            e.total,
        ),
        (
            "total-verifications",
            "checks",
            "电子证照核验",
            "Licence checks",
            v.total,
        ),
        ("total-valid", "valid", "核验有效", "Valid", v.valid),
        ("total-invalid", "invalid", "核验无效", "Invalid", v.invalid),
    ] {
        let _ = writeln!(
            h,
            "<div class=\"tile {class}\"><p class=\"label\">{zh} <span lang=\"en\">{en}</span></p>\
             <p class=\"value\" id=\"{id}\">{}</p></div>",
            thousands(value)
        );
    }
    h.push_str("</section>\n");
}

fn categories(h: &mut String, report: &Report) {
    let mut rows: Vec<(&str, u64)> = report
        .figures
        .exchanges
        .by_category
        .iter()
        .map(|(k, &v)| (k.as_str(), v))
        .collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    h.push_str(
        "<section class=\"panel\" id=\"by-category\"><h2>办件分类 <span lang=\"en\">Cases by \
         category</span></h2>\n",
    );
    bars(
        h,
        rows.iter().map(|(name, n)| {
            let name = if *name == UNKNOWN {
                "其他 <span lang=\"en\">Other</span>".to_owned()
            } else {
                escape(name)
            };
            (name, *n)
        }),
    );
    h.push_str("</section>\n");
}

fn licence_types(h: &mut String, report: &Report, catalog: &Catalog) {
    let mut rows: Vec<(&str, u64)> = report
        .figures
        .verifications
        .by_ltype
        .iter()
        .map(|(k, &v)| (k.as_str(), v))
        .collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let more = rows.len().saturating_sub(TOP_LTYPES);
    rows.truncate(TOP_LTYPES);
    h.push_str(
        "<section class=\"panel\" id=\"by-ltype\"><h2>证照核验 · 按类型 <span lang=\"en\">Licence \
         checks by type</span></h2>\n",
    );
    bars(
        h,
        rows.iter().map(|(code, n)| {
            let name = match catalog.licence_type(code) {
                Some(t) => escape(&t.name_zh),
                None => "无法识别 <span lang=\"en\">Unreadable</span>".to_owned(),
            };
            (name, *n)
        }),
    );
    if more > 0 {
        let _ = writeln!(
            h,
            "<p class=\"more\">另有 {more} 类 <span lang=\"en\">and {more} more types</span></p>"
        );
    }
    h.push_str("</section>\n");
}

/// Horizontal bars: name, bar (an SVG: CSP forbids inline styles), count; `name` is HTML.
fn bars(h: &mut String, rows: impl Iterator<Item = (String, u64)>) {
    let rows: Vec<(String, u64)> = rows.collect();
    if rows.is_empty() {
        h.push_str("<p class=\"empty\">今日暂无 <span lang=\"en\">None yet today</span></p>\n");
        return;
    }
    let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1);
    h.push_str("<ol class=\"bars\">\n");
    for (name, n) in rows {
        let width = (n as f64 / max as f64 * 100.0).max(1.0);
        let _ = writeln!(
            h,
            "<li><span class=\"name\">{name}</span><svg class=\"bar\" viewBox=\"0 0 100 10\" \
             preserveAspectRatio=\"none\" aria-hidden=\"true\"><rect width=\"{width:.1}\" \
             height=\"10\"/></svg><span class=\"count\">{}</span></li>",
            thousands(n)
        );
    }
    h.push_str("</ol>\n");
}

/// The 9 × 9 matrix: rows the calling city, columns the providing city.
fn flows(h: &mut String, report: &Report, catalog: &Catalog) {
    let routes = &report.figures.exchanges.by_route;
    let max = routes.values().copied().max().unwrap_or(0).max(1);
    h.push_str(
        "<section class=\"panel\" id=\"flows\"><h2>城市间流向 <span lang=\"en\">Flows between \
         cities</span></h2>\n<table>\n<caption>行：办事城市（调用方） · 列：数据提供城市 \
         <span lang=\"en\">rows: calling city · columns: providing city</span></caption>\n\
         <thead><tr><th scope=\"col\"><span class=\"corner\">从 ↓ 到 →</span></th>",
    );
    let cities = catalog.cities();
    for c in cities {
        let _ = write!(h, "<th scope=\"col\">{}</th>", escape(short(&c.name_zh)));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for from in cities {
        let _ = write!(
            h,
            "<tr><th scope=\"row\">{}</th>",
            escape(short(&from.name_zh))
        );
        for to in cities {
            let n = routes
                .get(&(from.code.clone(), to.code.clone()))
                .copied()
                .unwrap_or(0);
            let heat = if n == 0 {
                0
            } else {
                (n * HEAT_LEVELS).div_ceil(max).clamp(1, HEAT_LEVELS)
            };
            let text = if n == 0 {
                "·".to_owned()
            } else {
                thousands(n)
            };
            let _ = write!(
                h,
                "<td class=\"heat-{heat}\" data-from=\"{}\" data-to=\"{}\">{text}</td>",
                escape(&from.code),
                escape(&to.code)
            );
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table>\n</section>\n");
}

/// `武汉市` → `武汉`: the matrix has little room.
fn short(name: &str) -> &str {
    name.strip_suffix('市').unwrap_or(name)
}

/// `1234567` → `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Figures;

    #[test]
    fn numbers_and_names() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(short("武汉市"), "武汉");
    }

    #[test]
    fn renders_every_city_and_escapes_names() {
        let catalog = Catalog::embedded().unwrap();
        let mut figures = Figures::default();
        figures.exchanges.total = 3;
        figures
            .exchanges
            .by_category
            .insert("<b>住房</b>".into(), 3);
        figures
            .exchanges
            .by_route
            .insert(("420100".into(), "421200".into()), 3);
        figures.verifications.by_ltype.insert(UNKNOWN.into(), 1);
        let report = Report {
            day: "2026-12-02".into(),
            figures,
        };
        let html = render(&report, 7, 1_796_140_800, &catalog);
        assert!(html.contains("&lt;b&gt;住房&lt;/b&gt;") && !html.contains("<b>住房"));
        assert_eq!(html.matches("<tr><th scope=\"row\">").count(), 9);
        assert!(html.contains("data-from=\"420100\" data-to=\"421200\">3</td>"));
        assert!(html.contains("id=\"total-exchanges\">3<"));
        assert!(html.contains("data-version=\"7\""));
        assert!(!html.contains("style="), "CSP forbids inline styles");
    }
}
