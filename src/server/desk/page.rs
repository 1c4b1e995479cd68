//! The desk's HTML: the page (Chinese first, English beside), the input, and the verdict card.

use std::fmt::Write as _;

use hyper::StatusCode;

use super::meanings::meaning;
use super::Outcome;
use crate::catalog::Catalog;
use crate::licence::{Finding, Verdict};
use crate::server::web::escape;
use crate::time::{format_cst, format_rfc3339, UnixTime};

/// What the page shows besides the result.
pub struct Context<'a> {
    /// The workstation's city (the verifying city), department kind and organisation name.
    pub city: &'a str,
    pub department: &'a str,
    pub org_name: &'a str,
    pub catalog: &'a Catalog,
    pub generation: u64,
    /// When the trust data in force was loaded.
    pub loaded_at: UnixTime,
    pub outcome: &'a Outcome,
}

const HEAD: &str = "<!doctype html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>电子证照核验台 · Licence verification desk</title>\n\
<link rel=\"icon\" href=\"/desk/assets/icon.svg\">\n\
<link rel=\"stylesheet\" href=\"/desk/assets/desk.css\">\n\
<script src=\"/desk/assets/jsQR.js\" defer></script>\n\
<script src=\"/desk/assets/desk.js\" defer></script>\n</head>\n<body>\n";

/// The whole desk page.
pub fn render(cx: &Context<'_>) -> String {
    let mut h = String::with_capacity(8 * 1024);
    h.push_str(HEAD);
    header(&mut h, cx);
    h.push_str("<main>\n");
    input(&mut h);
    h.push_str(
        "<section id=\"result\" aria-live=\"polite\" aria-label=\"核验结果 Result of the check\">\n",
    );
    match cx.outcome {
        Outcome::Ready => h.push_str(
            "<p class=\"ready\">等待核验 <span lang=\"en\">Waiting for a licence</span></p>\n",
        ),
        Outcome::Checked { verdict, at } => card(&mut h, cx, verdict, *at),
        Outcome::Notice(zh, en) => {
            let _ = writeln!(
                h,
                "<p class=\"notice\" role=\"alert\">{} <span lang=\"en\">{}</span></p>",
                escape(zh),
                escape(en)
            );
        }
    }
    h.push_str("</section>\n</main>\n");
    h.push_str(
        "<footer><p>本页面不保存任何证照信息；证件号码仅显示前 6 位和后 4 位。 <span lang=\"en\">This \
         page keeps no licence data; ID numbers show only their first 6 and last 4 characters.\
         </span></p><p>二维码识别 <span lang=\"en\">QR reading</span>: jsQR 1.4.0 (Apache-2.0, \
         <a href=\"/desk/assets/jsQR.LICENSE\">licence</a>)</p></footer>\n</body>\n</html>\n",
    );
    h
}

/// The page for a client certificate the desk cannot serve.
pub fn refused(status: StatusCode, why: &str) -> String {
    let (zh, en) = if status == StatusCode::UNAUTHORIZED {
        (
            "此工作站未出示部门数字证书。请在浏览器中安装本部门的客户端证书后重试。",
            "This workstation presented no department certificate. Install your department's \
             client certificate in the browser and try again.",
        )
    } else {
        (
            "此工作站的证书不被本网关认可为所在城市的部门证书。",
            "This workstation's certificate is not accepted as a department certificate of its \
             city.",
        )
    };
    let mut h = String::from(HEAD);
    let _ = write!(
        h,
        "<main>\n<h1>电子证照核验台 <span lang=\"en\">Licence verification desk</span></h1>\n\
         <p class=\"notice\" role=\"alert\">{zh} <span lang=\"en\">{en}</span></p>\n\
         <p class=\"detail\"><code>{}</code></p>\n</main>\n</body>\n</html>\n",
        escape(why)
    );
    h
}

fn header(h: &mut String, cx: &Context<'_>) {
    let city = cx
        .catalog
        .city(cx.city)
        .map_or(String::new(), |x| escape(&x.name_zh));
    let dept = cx
        .catalog
        .department(cx.department)
        .map_or(String::new(), |d| escape(&d.name_zh));
    let _ = write!(
        h,
        "<header class=\"top\">\n<h1>电子证照核验台 <span lang=\"en\">Licence verification \
         desk</span></h1>\n<dl class=\"station\">\
         <div><dt>核验城市 <span lang=\"en\">Verifying for</span></dt><dd id=\"station-city\" \
         data-city=\"{code}\">{city} <code>{code}</code></dd></div>\
         <div><dt>工作站 <span lang=\"en\">Workstation</span></dt><dd>{org} \
         <span class=\"sub\">{dept} <code>{dept_code}</code></span></dd></div>\
         <div><dt>信任数据 <span lang=\"en\">Trust data</span></dt><dd>{loaded} \
         <span class=\"sub\">第 {generation} 版 <span lang=\"en\">generation {generation}</span>\
         </span></dd></div></dl>\n</header>\n",
        code = escape(cx.city),
        org = escape(cx.org_name),
        dept_code = escape(cx.department),
        loaded = escape(&format_cst(cx.loaded_at)),
        generation = cx.generation,
    );
}

fn input(h: &mut String) {
    h.push_str(
        "<section class=\"input\">\n\
         <form id=\"check\" method=\"post\" action=\"/desk/verify\" autocomplete=\"off\">\n\
         <label for=\"licence\">扫码枪扫描或粘贴电子证照 <span lang=\"en\">Scan with the handheld \
         scanner, or paste the licence</span></label>\n\
         <div class=\"row\"><input id=\"licence\" name=\"licence\" type=\"text\" required \
         autofocus spellcheck=\"false\" autocomplete=\"off\" autocapitalize=\"off\" \
         aria-describedby=\"licence-help\"><button type=\"submit\">核验 <span lang=\"en\">Verify\
         </span></button></div>\n\
         <p id=\"licence-help\" class=\"help\">扫码枪输入后按回车即核验；按 Esc 清空。 \
         <span lang=\"en\">The check starts when the scanner sends Enter; Esc clears the field.\
         </span></p>\n</form>\n\
         <div id=\"scan\" class=\"scan\" hidden>\n\
         <div class=\"way\"><label for=\"photo\">上传二维码图片或截图 <span lang=\"en\">Upload a \
         photo or screenshot of the QR code</span></label>\
         <input id=\"photo\" type=\"file\" accept=\"image/*\"></div>\n\
         <div class=\"way\"><button type=\"button\" id=\"camera\" aria-pressed=\"false\">\
         用摄像头扫码 <span lang=\"en\">Scan with the camera</span></button></div>\n\
         <video id=\"preview\" muted playsinline hidden aria-label=\"摄像头画面 Camera view\">\
         </video>\n\
         <p id=\"scan-status\" role=\"status\"></p>\n</div>\n</section>\n",
    );
}

/// The verdict card: `data-verdict`, words and a mark besides the colour, every code.
fn card(h: &mut String, cx: &Context<'_>, v: &Verdict, at: UnixTime) {
    let (verdict, title_zh, title_en, mark) = match (v.valid, v.warnings.is_empty()) {
        (true, true) => ("valid", "有效", "Valid", "✓"),
        (true, false) => (
            "valid",
            "有效 · 请注意警告",
            "Valid — see the warnings",
            "✓",
        ),
        (false, _) => ("invalid", "无效 · 请勿受理", "Invalid — do not accept", "✗"),
    };
    let warn = if v.warnings.is_empty() { "" } else { " warn" };
    let _ = write!(
        h,
        "<article id=\"verdict\" class=\"verdict {verdict}{warn}\" data-verdict=\"{verdict}\" \
         data-warnings=\"{}\" tabindex=\"-1\" aria-labelledby=\"verdict-title\">\n\
         <h2 id=\"verdict-title\"><span class=\"mark\" aria-hidden=\"true\">{mark}</span> \
         {title_zh} <span lang=\"en\">{title_en}</span></h2>\n",
        v.warnings.len()
    );
    // what is wrong first: the clerk reads it before the facts
    findings(h, "errors", "错误", "Errors", &v.errors);
    findings(h, "warnings", "警告", "Warnings", &v.warnings);
    h.push_str("<dl class=\"facts\">\n");
    let unknown = "<span class=\"none\">— <span lang=\"en\">unreadable</span></span>";
    // type
    let ltype = v
        .ltype
        .as_deref()
        .map(|code| match cx.catalog.licence_type(code) {
            Some(t) => format!(
                "{} <span lang=\"en\">{}</span> <code>{}</code>",
                escape(&t.name_zh),
                escape(&t.name_en),
                escape(code)
            ),
            None => format!("<code>{}</code>", escape(code)),
        });
    fact(
        h,
        "ltype",
        "证照类型",
        "Licence type",
        ltype.as_deref().unwrap_or(unknown),
    );
    // issuer
    let issuer = v.issuer.as_ref().map(|i| {
        let city = i.city.as_deref().unwrap_or_default();
        let dept = i.department.as_deref().unwrap_or_default();
        let city_name = cx.catalog.city(city).map_or("", |c| c.name_zh.as_str());
        let dept_name = cx
            .catalog
            .department(dept)
            .map_or("", |d| d.name_zh.as_str());
        format!(
            "{} <span class=\"sub\">{} · {} <code>{}/{}</code></span>",
            escape(i.org_name.as_deref().unwrap_or_default()),
            escape(city_name),
            escape(dept_name),
            escape(city),
            escape(dept)
        )
    });
    fact(
        h,
        "issuer",
        "发证机关",
        "Issuer",
        issuer.as_deref().unwrap_or(unknown),
    );
    // validity
    let from = v.nbf.or(v.iat);
    let validity = from.map(|from| {
        let until = v.exp.map_or_else(
            || "长期有效 <span lang=\"en\">no expiry</span>".to_owned(),
            |exp| escape(&minutes(exp)),
        );
        let issued = v
            .iat
            .map(|iat| {
                format!(
                    " <span class=\"sub\">签发 <span lang=\"en\">issued</span> {}</span>",
                    escape(&minutes(iat))
                )
            })
            .unwrap_or_default();
        format!(
            "{} 至 <span lang=\"en\">to</span> {until}{issued}",
            escape(&minutes(from))
        )
    });
    fact(
        h,
        "validity",
        "有效期",
        "Valid",
        validity.as_deref().unwrap_or(unknown),
    );
    // holder
    let holder = v.holder.as_ref();
    let name = holder.and_then(|x| x.name.as_deref()).map(escape);
    fact(
        h,
        "holder-name",
        "持证人",
        "Holder",
        name.as_deref().unwrap_or(unknown),
    );
    let id = holder.and_then(|x| x.id.as_deref()).map(|id| {
        let kind = match holder.and_then(|x| x.id_type.as_deref()) {
            Some("USCC") => "统一社会信用代码 <span lang=\"en\">USCC</span>",
            Some("ID_NUMBER") => "居民身份证号码 <span lang=\"en\">resident ID</span>",
            _ => "证件号码 <span lang=\"en\">ID</span>",
        };
        format!(
            "<code>{}</code> <span class=\"sub\">{kind}</span>",
            escape(id)
        )
    });
    fact(
        h,
        "holder-id",
        "证件号码",
        "Holder ID",
        id.as_deref().unwrap_or(unknown),
    );
    let lid = v
        .lid
        .as_deref()
        .map(|l| format!("<code class=\"lid\">{}</code>", escape(l)));
    fact(
        h,
        "lid",
        "证照标识",
        "Licence ID",
        lid.as_deref().unwrap_or(unknown),
    );
    let city = cx
        .catalog
        .city(&v.verified_for_city)
        .map_or(String::new(), |c| escape(&c.name_zh));
    let checked = format!(
        "<time datetime=\"{}\">{}</time> 北京时间 <span lang=\"en\">China Standard Time</span> \
         <span class=\"sub\">核验城市 <span lang=\"en\">for</span> {city}</span>",
        escape(&format_rfc3339(at)),
        escape(&format_cst(at))
    );
    fact(h, "checked-at", "核验时间", "Checked at", &checked);
    h.push_str("</dl>\n</article>\n");
}

/// One line of the card; `value` is HTML.
fn fact(h: &mut String, field: &str, zh: &str, en: &str, value: &str) {
    let _ = writeln!(
        h,
        "<div><dt>{zh} <span lang=\"en\">{en}</span></dt><dd data-field=\"{field}\">{value}</dd></div>"
    );
}

fn findings(h: &mut String, class: &str, zh: &str, en: &str, list: &[Finding]) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(
        h,
        "<section class=\"findings {class}\"><h3>{zh} <span lang=\"en\">{en}</span></h3><ul>"
    );
    for f in list {
        let code = f.code.as_str();
        let (mzh, men) = meaning(f.code);
        let _ = writeln!(
            h,
            "<li data-code=\"{code}\"><code>{code}</code> <span class=\"meaning\">{mzh}</span> \
             <span lang=\"en\">{men}</span> <span class=\"detail\">{}</span></li>",
            escape(&f.message)
        );
    }
    h.push_str("</ul></section>\n");
}

/// `YYYY-MM-DD HH:MM` in China Standard Time.
fn minutes(at: UnixTime) -> String {
    let mut text = format_cst(at);
    text.truncate(16);
    text
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::licence::verdict::{HolderInfo, IssuerInfo};
    use crate::licence::Code;

    fn verdict(errors: Vec<Finding>, warnings: Vec<Finding>) -> Verdict {
        Verdict {
            valid: errors.is_empty(),
            lid: Some("1.2.156.3005.2.X".into()),
            ltype: Some("ID_CARD".into()),
            ltype_name: Some("居民身份证".into()),
            issuer: Some(Arc::new(IssuerInfo {
                city: Some("420200".into()),
                department: Some("PUBLIC_SECURITY".into()),
                org_id: Some("11420200MB0000000E".into()),
                org_name: Some("黄石市公安局<script>".into()),
            })),
            holder: Some(HolderInfo {
                name: Some("张三".into()),
                id: Some("420200********902X".into()),
                id_type: Some("ID_NUMBER".into()),
            }),
            errors,
            warnings,
            verified_for_city: "420100".into(),
            cached: false,
            iat: Some(1_748_736_000),
            nbf: None,
            exp: None,
        }
    }

    fn page(v: Verdict) -> String {
        let catalog = Catalog::embedded().unwrap();
        let outcome = Outcome::Checked {
            verdict: Box::new(v),
            at: 1_796_178_600,
        };
        render(&Context {
            city: "420100",
            department: "GOV_SERVICE",
            org_name: "武汉市政务服务和大数据管理局",
            catalog: &catalog,
            generation: 3,
            loaded_at: 1_796_170_000,
            outcome: &outcome,
        })
    }

    #[test]
    fn every_code_is_shown_verbatim_with_its_meaning() {
        let (warnings, errors): (Vec<Code>, Vec<Code>) =
            Code::ALL.iter().partition(|c| c.is_warning());
        let found = |codes: &[Code]| {
            codes
                .iter()
                .map(|&c| Finding::new(c, format!("detail of {}", c.as_str())))
                .collect()
        };
        let html = page(verdict(found(&errors), found(&warnings)));
        assert!(html.contains("data-verdict=\"invalid\""));
        for code in Code::ALL {
            let (zh, en) = meaning(code);
            let item = format!(
                "<li data-code=\"{c}\"><code>{c}</code> <span class=\"meaning\">{zh}</span> \
                 <span lang=\"en\">{en}</span> <span class=\"detail\">detail of {c}</span></li>",
                c = code.as_str()
            );
            assert!(html.contains(&item), "{item}");
        }
        assert!(html.contains("黄石市公安局&lt;script&gt;"), "escaped");
        assert!(!html.contains("<script>\n") && !html.contains(" style="));
    }

    #[test]
    fn valid_with_a_warning_is_amber_and_says_so() {
        let html = page(verdict(
            Vec::new(),
            vec![Finding::new(Code::CrlStale, "stale since …")],
        ));
        assert!(html
            .contains("class=\"verdict valid warn\" data-verdict=\"valid\" data-warnings=\"1\""));
        assert!(html.contains("有效 · 请注意警告"));
        assert!(html.contains("data-code=\"CRL_STALE\""));
        assert!(html.contains("长期有效"), "no expiry");
        assert!(
            html.contains("2026-12-02 10:30:00"),
            "the time of the check"
        );
        let plain = page(verdict(Vec::new(), Vec::new()));
        assert!(
            plain.contains("class=\"verdict valid\" data-verdict=\"valid\" data-warnings=\"0\"")
        );
        assert!(!plain.contains("findings"));
    }
}
