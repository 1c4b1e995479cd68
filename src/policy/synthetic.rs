//! Synthetic policy sets at full scale, for benchmarks and load tests: [`generate`] builds items
//! in memory (the platform's 1,062 by default, [`DEFAULT_ITEMS`]) spread over the 9 cities and
//! the 18 categories, each with 3–6 permits of varied callers, purposes, masks, rates, licences
//! and windows, and some forbids; [`render_files`] writes them as policy files that load back
//! through [`PolicySet::parse`](super::PolicySet::parse). Deterministic for a seed.
//!
//! Only catalog codes are used (cities, department kinds, licence types of
//! `policies/catalog/`), so the rendered files load against the shipped catalog.

#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "generated from the constant tables below (known-good paths, rates and dates; indices \
              drawn below their table's length): no input reaches it"
)]

use std::fmt::Write as _;

use super::model::{
    CallerPattern, Day, FieldPath, Forbid, Item, MaskMethod, Origin, Part, Party, Permit, Rate,
};
use super::plan::Plans;

/// The number of cross-city service items of the 一圈通办 platform.
pub const DEFAULT_ITEMS: usize = 1062;

/// The nine cities: code and the item-id suffix.
pub const CITIES: [(&str, &str); 9] = [
    ("420100", "WH"),
    ("420200", "HS"),
    ("420700", "EZ"),
    ("420900", "XG"),
    ("421100", "HG"),
    ("421200", "XN"),
    ("429004", "XT"),
    ("429005", "QJ"),
    ("429006", "TM"),
];

/// A category: Chinese name, directory slug, item-id prefix, providing department, the
/// departments that typically call it, its purposes, its service nouns, licence types a permit
/// may require.
struct Category {
    name: &'static str,
    slug: &'static str,
    prefix: &'static str,
    provider: &'static str,
    callers: &'static [&'static str],
    purposes: &'static [&'static str],
    nouns: &'static [&'static str],
    licences: &'static [&'static str],
}

const CATEGORIES: [Category; 18] = [
    Category {
        name: "企业登记",
        slug: "enterprise-registration",
        prefix: "ENT",
        provider: "MARKET_REG",
        callers: &["MARKET_REG", "TAX", "GOV_SERVICE", "HRSS"],
        purposes: &["ENT_CROSS_CITY_REG", "ENT_CHANGE_REG", "TAX_REGISTRATION"],
        nouns: &[
            "企业登记基本信息",
            "企业变更登记",
            "分支机构备案",
            "企业注销",
        ],
        licences: &["BUSINESS_LICENCE"],
    },
    Category {
        name: "住房公积金",
        slug: "housing-fund",
        prefix: "HPF",
        provider: "HOUSING_FUND",
        callers: &["HOUSING_FUND", "NATURAL_RESOURCES", "HOUSING_CONSTRUCTION"],
        purposes: &["HPF_WITHDRAWAL", "HPF_LOAN", "HPF_TRANSFER"],
        nouns: &[
            "住房公积金缴存",
            "住房公积金提取",
            "住房公积金贷款",
            "住房公积金转移接续",
        ],
        licences: &["ID_CARD", "HOUSING_FUND_DEPOSIT_PROOF"],
    },
    Category {
        name: "异地就医",
        slug: "cross-region-medical",
        prefix: "MED",
        provider: "MEDICAL_SECURITY",
        callers: &["MEDICAL_SECURITY", "HEALTH", "HRSS"],
        purposes: &[
            "CROSS_REGION_SETTLEMENT",
            "INSURANCE_TRANSFER",
            "MEDICAL_ADMISSION",
        ],
        nouns: &[
            "异地就医备案",
            "异地就医结算",
            "医保参保状态",
            "医保关系转移",
        ],
        licences: &["MEDICAL_INSURANCE_E_CERT", "CROSS_REGION_MEDICAL_FILING"],
    },
    Category {
        name: "社会保险",
        slug: "social-insurance",
        prefix: "SI",
        provider: "HRSS",
        callers: &["HRSS", "MEDICAL_SECURITY", "CIVIL_AFFAIRS"],
        purposes: &[
            "PENSION_TRANSFER",
            "SOCIAL_INSURANCE_ENROLMENT",
            "UNEMPLOYMENT_BENEFIT",
        ],
        nouns: &[
            "养老保险转移",
            "社保缴费记录",
            "失业保险待遇",
            "工伤保险待遇",
        ],
        licences: &["SOCIAL_SECURITY_CARD", "ID_CARD"],
    },
    Category {
        name: "户籍",
        slug: "household-registration",
        prefix: "HUKOU",
        provider: "PUBLIC_SECURITY",
        callers: &["PUBLIC_SECURITY", "EDUCATION", "CIVIL_AFFAIRS"],
        purposes: &["HUKOU_TRANSFER_IN", "ID_VERIFICATION", "SCHOOL_ENROLMENT"],
        nouns: &["户口迁移", "常住人口信息", "居住证", "身份证异地受理"],
        licences: &[
            "HOUSEHOLD_REGISTER",
            "RESIDENCE_PERMIT",
            "HUKOU_MIGRATION_PERMIT",
        ],
    },
    Category {
        name: "税务",
        slug: "tax",
        prefix: "TAX",
        provider: "TAX",
        callers: &["TAX", "MARKET_REG", "HOUSING_CONSTRUCTION"],
        purposes: &[
            "TAX_VERIFICATION",
            "HOUSE_PURCHASE_QUALIFICATION",
            "CREDIT_SUPERVISION",
        ],
        nouns: &["完税证明", "纳税信用等级", "清税证明", "个人所得税纳税记录"],
        licences: &["TAX_PAYMENT_CERT", "IIT_PAYMENT_RECORD"],
    },
    Category {
        name: "不动产",
        slug: "real-estate",
        prefix: "RE",
        provider: "NATURAL_RESOURCES",
        callers: &["NATURAL_RESOURCES", "HOUSING_FUND", "TAX"],
        purposes: &["REAL_ESTATE_REG", "HPF_LOAN", "REAL_ESTATE_TRANSACTION_TAX"],
        nouns: &["不动产权属", "不动产抵押登记", "名下住房套数", "存量房交易"],
        licences: &["REAL_ESTATE_TITLE_CERT", "REAL_ESTATE_REG_PROOF"],
    },
    Category {
        name: "职业资格",
        slug: "professional-qualification",
        prefix: "PQ",
        provider: "HRSS",
        callers: &["HRSS", "HOUSING_CONSTRUCTION", "EDUCATION"],
        purposes: &["TALENT_SUBSIDY", "BID_QUALIFICATION", "PUBLIC_RECRUITMENT"],
        nouns: &[
            "职业技能等级证书",
            "专业技术职务任职资格",
            "二级建造师注册",
            "教师资格",
        ],
        licences: &["VOCATIONAL_SKILL_CERT", "PROFESSIONAL_TITLE_CERT"],
    },
    Category {
        name: "药品经营",
        slug: "drug-licensing",
        prefix: "DRUG",
        provider: "DRUG_ADMIN",
        callers: &["DRUG_ADMIN", "MARKET_REG", "MEDICAL_SECURITY"],
        purposes: &[
            "DRUG_SUPERVISION",
            "DESIGNATED_PHARMACY",
            "FOOD_SUPERVISION",
        ],
        nouns: &[
            "药品经营许可证",
            "执业药师注册",
            "医疗器械经营备案",
            "食品经营许可证",
        ],
        licences: &["DRUG_BUSINESS_LICENCE", "FOOD_BUSINESS_LICENCE"],
    },
    Category {
        name: "婚姻登记",
        slug: "marriage",
        prefix: "MAR",
        provider: "CIVIL_AFFAIRS",
        callers: &["CIVIL_AFFAIRS", "HOUSING_FUND", "NATURAL_RESOURCES"],
        purposes: &["MARRIAGE_REGISTRATION", "HPF_WITHDRAWAL", "REAL_ESTATE_REG"],
        nouns: &["婚姻登记", "离婚登记", "婚姻状况"],
        licences: &["MARRIAGE_CERT", "DIVORCE_CERT"],
    },
    Category {
        name: "教育",
        slug: "education",
        prefix: "EDU",
        provider: "EDUCATION",
        callers: &["EDUCATION", "HOUSING_FUND", "CIVIL_AFFAIRS"],
        purposes: &["SCHOOL_ENROLMENT", "SCHOOL_TRANSFER", "STUDENT_SUBSIDY"],
        nouns: &["义务教育学籍", "转学学籍", "民办学校办学许可"],
        licences: &["SCHOOL_OPERATING_PERMIT", "ID_CARD"],
    },
    Category {
        name: "交通出行",
        slug: "transport",
        prefix: "TRANS",
        provider: "TRANSPORT",
        callers: &["TRANSPORT", "PUBLIC_SECURITY", "TAX"],
        purposes: &[
            "ROAD_TRANSPORT_SUPERVISION",
            "TRAFFIC_ENFORCEMENT",
            "RIDE_HAILING_SUPERVISION",
        ],
        nouns: &[
            "道路运输经营许可",
            "网约车驾驶员证",
            "道路运输证",
            "机动车登记",
        ],
        licences: &["DRIVING_LICENCE", "VEHICLE_LICENCE", "ROAD_TRANSPORT_CERT"],
    },
    Category {
        name: "卫生健康",
        slug: "health",
        prefix: "HEALTH",
        provider: "HEALTH",
        callers: &["HEALTH", "PUBLIC_SECURITY", "MEDICAL_SECURITY"],
        purposes: &[
            "HUKOU_BIRTH_REGISTRATION",
            "VACCINATION_CONTINUATION",
            "NEWBORN_INSURANCE",
        ],
        nouns: &["出生医学证明", "预防接种记录", "医师执业注册", "健康证明"],
        licences: &["BIRTH_MEDICAL_CERT", "VACCINATION_CERT"],
    },
    Category {
        name: "民政",
        slug: "civil-affairs",
        prefix: "SA",
        provider: "CIVIL_AFFAIRS",
        callers: &["CIVIL_AFFAIRS", "MEDICAL_SECURITY", "EDUCATION"],
        purposes: &[
            "SOCIAL_ASSISTANCE",
            "MEDICAL_ASSISTANCE",
            "ELDERLY_ALLOWANCE",
        ],
        nouns: &["最低生活保障", "特困人员供养", "临时救助", "高龄津贴"],
        licences: &["HOUSEHOLD_REGISTER"],
    },
    Category {
        name: "残疾人服务",
        slug: "disability",
        prefix: "DPF",
        provider: "DISABLED_FED",
        callers: &["DISABLED_FED", "CIVIL_AFFAIRS", "TRANSPORT"],
        purposes: &["DISABILITY_SERVICE", "DISABILITY_SUBSIDY", "FREE_TRANSIT"],
        nouns: &["残疾人证", "残疾人两项补贴", "残疾人康复服务"],
        licences: &["DISABILITY_CERT"],
    },
    Category {
        name: "退役军人服务",
        slug: "veterans",
        prefix: "VET",
        provider: "VETERANS",
        callers: &["VETERANS", "HRSS", "TRANSPORT"],
        purposes: &["VETERAN_SERVICE", "VETERAN_RESETTLEMENT", "FREE_TRANSIT"],
        nouns: &["退役军人优待证", "退役军人安置", "优抚对象信息"],
        licences: &["VETERAN_PREFERENTIAL_CARD"],
    },
    Category {
        name: "生态环境",
        slug: "eco-environment",
        prefix: "ECO",
        provider: "ECO_ENV",
        callers: &["ECO_ENV", "WATER", "HOUSING_CONSTRUCTION"],
        purposes: &["ENV_ENFORCEMENT", "EIA_REVIEW", "POLLUTANT_PERMIT_CHANGE"],
        nouns: &[
            "排污许可证",
            "危险废物经营许可证",
            "环评批复",
            "辐射安全许可证",
        ],
        licences: &["POLLUTANT_DISCHARGE_PERMIT", "HAZARDOUS_WASTE_LICENCE"],
    },
    Category {
        name: "文化旅游",
        slug: "culture-tourism",
        prefix: "CT",
        provider: "CULTURE_TOURISM",
        callers: &["CULTURE_TOURISM", "MARKET_REG", "PUBLIC_SECURITY"],
        purposes: &[
            "TOURISM_SUPERVISION",
            "CULTURE_MARKET_SUPERVISION",
            "CREDIT_SUPERVISION",
        ],
        nouns: &[
            "旅行社业务经营许可",
            "娱乐经营许可证",
            "导游证",
            "网络文化经营许可证",
        ],
        licences: &["TRAVEL_AGENCY_LICENCE", "ENTERTAINMENT_LICENCE"],
    },
];

const SUFFIXES: [&str; 4] = ["信息核验", "信息查询", "状态核验", "记录查询"];
const RATES: [&str; 7] = [
    "60/min", "120/min", "300/min", "600/min", "1200/min", "10/s", "5000/h",
];
/// Personal paths (with their natural mask) and other paths an item picks its fields from.
const PERSONAL: [(&str, MaskMethod); 5] = [
    ("holder.name", MaskMethod::Name),
    ("holder.id_number", MaskMethod::IdNumber),
    ("holder.phone", MaskMethod::Phone),
    ("holder.address", MaskMethod::Redact),
    ("contact.email", MaskMethod::Hash),
];
const OTHER: [&str; 10] = [
    "record.no",
    "record.status",
    "record.issue_date",
    "record.valid_until",
    "record.authority",
    "record.amount",
    "details[].date",
    "details[].amount",
    "details[].note",
    "organisation.uscc",
];

/// SplitMix64: small, fast and deterministic (also drives the benches' generated requests).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`; 0 when `n` is 0.
    pub fn below(&mut self, n: usize) -> usize {
        self.next_u64().checked_rem(n as u64).unwrap_or(0) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

fn path(text: &str) -> FieldPath {
    FieldPath::parse(text).expect("synthetic paths are valid")
}

fn pattern(city: Option<&str>, department: &str) -> CallerPattern {
    CallerPattern {
        city: city.map_or(Part::Any, |c| Part::Is(c.to_owned())),
        department: Part::Is(department.to_owned()),
    }
}

/// 2025-01-01 as days since 1970-01-01.
const DAY_2025_01_01: Day = 20_089;

/// `items` synthetic items (use [`DEFAULT_ITEMS`] for the platform's scale), deterministic for
/// `seed`: item `i` is in category `i % 18`, provided by city `(i / 18) % 9`, so every category
/// and city is covered from 162 items on.
pub fn generate(items: usize, seed: u64) -> Vec<Item> {
    let mut rng = Rng::new(seed);
    (0..items).map(|i| item(i, &mut rng)).collect()
}

fn item(index: usize, rng: &mut Rng) -> Item {
    let cat = &CATEGORIES[index % CATEGORIES.len()];
    let (city, suffix) = CITIES[(index / CATEGORIES.len()) % CITIES.len()];
    let personal: Vec<(FieldPath, MaskMethod)> = PERSONAL
        .iter()
        .filter(|_| rng.chance(70))
        .map(|(p, m)| (path(p), *m))
        .collect();
    // 5–12 fields in all
    let mut fields: Vec<FieldPath> = personal.iter().map(|(p, _)| p.clone()).collect();
    let want = 5 + rng.below(8);
    let mut other: Vec<&str> = OTHER.to_vec();
    while fields.len() < want && !other.is_empty() {
        fields.push(path(other.remove(rng.below(other.len()))));
    }
    let mut permits = Vec::new();
    for n in 0..3 + rng.below(4) {
        permits.push(permit(n, cat, city, &fields, &personal, rng));
    }
    let mut forbids = Vec::new();
    if rng.chance(30) {
        let (other_city, _) = *rng.pick(&CITIES);
        forbids.push(Forbid {
            id: "suspended-caller".into(),
            callers: vec![pattern(Some(other_city), rng.pick::<&str>(cat.callers))],
            purposes: rng
                .chance(50)
                .then(|| vec![(*rng.pick(cat.purposes)).to_owned()]),
            allow: Vec::new(),
            origin: Origin::default(),
        });
    }
    Item {
        id: format!("{}-{:04}-{suffix}", cat.prefix, index + 1),
        name: format!("{}{}", *rng.pick(cat.nouns), *rng.pick(&SUFFIXES)),
        category: cat.name.to_owned(),
        provider: Party {
            city: city.to_owned(),
            department: cat.provider.to_owned(),
        },
        upstream: format!(
            "{}-{}",
            cat.provider.to_ascii_lowercase().replace('_', "-"),
            city
        ),
        methods: if rng.chance(20) {
            vec!["GET".into(), "POST".into()]
        } else {
            vec!["GET".into()]
        },
        fields,
        legal_basis: Some(format!(
            "《国务院关于加快推进政务服务“跨省通办”的指导意见》；{}相关法规",
            cat.name
        )),
        sensitive: Some(personal.into_iter().map(|(p, _)| p).collect()),
        permits,
        forbids,
        allow: Vec::new(),
        origin: Origin::default(),
        plans: Plans::default(),
    }
}

fn permit(
    n: usize,
    cat: &Category,
    provider_city: &str,
    fields: &[FieldPath],
    personal: &[(FieldPath, MaskMethod)],
    rng: &mut Rng,
) -> Permit {
    let dept = *rng.pick(cat.callers);
    // any city of that kind, one city, or two cities
    let callers = match rng.below(3) {
        0 => vec![pattern(None, dept)],
        1 => vec![pattern(Some(provider_city), dept)],
        _ => {
            let a = rng.pick(&CITIES).0;
            let b = rng.pick(&CITIES).0;
            let mut v = vec![pattern(Some(a), dept)];
            if a != b {
                v.push(pattern(Some(b), dept));
            }
            v
        }
    };
    let mut purposes = vec![(*rng.pick(cat.purposes)).to_owned()];
    if rng.chance(40) {
        let p = (*rng.pick(cat.purposes)).to_owned();
        if !purposes.contains(&p) {
            purposes.push(p);
        }
    }
    let granted: Vec<FieldPath> = {
        let g: Vec<FieldPath> = fields.iter().filter(|_| rng.chance(60)).cloned().collect();
        if g.is_empty() {
            vec![fields[0].clone()]
        } else {
            g
        }
    };
    // cross-city callers see personal fields masked
    let cross_city = callers
        .iter()
        .any(|c| c.city != Part::Is(provider_city.to_owned()));
    let mask = personal
        .iter()
        .filter(|(p, _)| granted.contains(p) && (cross_city || rng.chance(20)))
        .cloned()
        .collect();
    let rate =
        (!rng.chance(10)).then(|| Rate::parse(rng.pick::<&str>(&RATES)).expect("valid rate"));
    let require_licence = rng.chance(20).then(|| (*rng.pick(cat.licences)).to_owned());
    let (valid_from, valid_until) = if rng.chance(15) {
        let from = DAY_2025_01_01 + rng.below(365) as Day;
        (Some(from), Some(from + 180 + rng.below(720) as Day))
    } else {
        (None, None)
    };
    Permit {
        id: format!("p{}-{}", n + 1, dept.to_ascii_lowercase().replace('_', "-")),
        callers,
        purposes,
        fields: granted.into(),
        mask,
        rate,
        require_licence,
        valid_from,
        valid_until,
        allow: Vec::new(),
        origin: Origin::default(),
    }
}

/// The policy files for `items`, one per category: `(relative path, text)` with paths like
/// `items/housing-fund/synthetic.toml`. Write them under a directory next to a `catalog/` and
/// load it with [`PolicySet::load`](super::PolicySet::load).
pub fn render_files(items: &[Item]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for cat in &CATEGORIES {
        let mine: Vec<&Item> = items.iter().filter(|i| i.category == cat.name).collect();
        if mine.is_empty() {
            continue;
        }
        let mut text = format!(
            "# {} — synthetic items for benchmarks (tongban::policy::synthetic)\n",
            cat.name
        );
        for item in mine {
            text.push('\n');
            text.push_str(&render_item(item));
        }
        out.push((format!("items/{}/synthetic.toml", cat.slug), text));
    }
    // items of categories this module does not know
    let rest: Vec<&Item> = items
        .iter()
        .filter(|i| CATEGORIES.iter().all(|c| c.name != i.category))
        .collect();
    if !rest.is_empty() {
        out.push((
            "items/other/synthetic.toml".into(),
            rest.iter()
                .map(|i| render_item(i))
                .collect::<Vec<_>>()
                .join("\n"),
        ));
    }
    out
}

/// All of `items` as the text of one policy file.
pub fn render_toml(items: &[Item]) -> String {
    items.iter().map(render_item).collect::<Vec<_>>().join("\n")
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn list<T: ToString>(xs: &[T]) -> String {
    let quoted: Vec<String> = xs.iter().map(|x| quote(&x.to_string())).collect();
    format!("[{}]", quoted.join(", "))
}

fn date(day: Day) -> String {
    let epoch = time::Date::from_calendar_date(1970, time::Month::January, 1)
        .expect("valid date")
        .to_julian_day();
    let d = time::Date::from_julian_day(epoch + day).expect("date in range");
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// One item as a `[[item]]` table with its permits and forbids.
pub fn render_item(item: &Item) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "[[item]]");
    let _ = writeln!(s, "id = {}", quote(&item.id));
    let _ = writeln!(s, "name = {}", quote(&item.name));
    let _ = writeln!(s, "category = {}", quote(&item.category));
    let _ = writeln!(
        s,
        "provider = {}",
        quote(&format!(
            "{}/{}",
            item.provider.city, item.provider.department
        ))
    );
    let _ = writeln!(s, "upstream = {}", quote(&item.upstream));
    let _ = writeln!(s, "methods = {}", list(&item.methods));
    let _ = writeln!(s, "fields = {}", list(&item.fields));
    if let Some(basis) = &item.legal_basis {
        let _ = writeln!(s, "legal_basis = {}", quote(basis));
    }
    if let Some(sensitive) = &item.sensitive {
        let _ = writeln!(s, "sensitive = {}", list(sensitive));
    }
    for p in &item.permits {
        let _ = writeln!(s, "\n[[item.permit]]");
        let _ = writeln!(s, "id = {}", quote(&p.id));
        let _ = writeln!(s, "callers = {}", list(&p.callers));
        let _ = writeln!(s, "purposes = {}", list(&p.purposes));
        let _ = writeln!(s, "fields = {}", list(&p.fields));
        if !p.mask.is_empty() {
            let masks: Vec<String> = p
                .mask
                .iter()
                .map(|(f, m)| format!("{} = {}", quote(f.as_str()), quote(m.as_str())))
                .collect();
            let _ = writeln!(s, "mask = {{ {} }}", masks.join(", "));
        }
        if let Some(rate) = p.rate {
            let _ = writeln!(s, "rate = {}", quote(&rate.to_string()));
        }
        if let Some(t) = &p.require_licence {
            let _ = writeln!(s, "require_licence = {}", quote(t));
        }
        if let Some(d) = p.valid_from {
            let _ = writeln!(s, "valid_from = {}", date(d));
        }
        if let Some(d) = p.valid_until {
            let _ = writeln!(s, "valid_until = {}", date(d));
        }
    }
    for f in &item.forbids {
        let _ = writeln!(s, "\n[[item.forbid]]");
        let _ = writeln!(s, "id = {}", quote(&f.id));
        let _ = writeln!(s, "callers = {}", list(&f.callers));
        if let Some(purposes) = &f.purposes {
            let _ = writeln!(s, "purposes = {}", list(purposes));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::catalog::Catalog;
    use crate::policy::PolicySet;

    fn rules(items: &[Item]) -> usize {
        items
            .iter()
            .map(|i| i.permits.len() + i.forbids.len())
            .sum()
    }

    /// Items without their origins (which loading fills in), masks in load order.
    fn normalised(items: &[Item]) -> Vec<Item> {
        items
            .iter()
            .map(|i| {
                let mut i = i.clone();
                i.origin = Origin::default();
                for p in &mut i.permits {
                    p.origin = Origin::default();
                    let mut mask = p.mask.to_vec();
                    mask.sort();
                    p.mask = mask.into();
                }
                for f in &mut i.forbids {
                    f.origin = Origin::default();
                }
                i
            })
            .collect()
    }

    #[test]
    fn full_scale_renders_and_loads_back() {
        let items = generate(DEFAULT_ITEMS, 2026);
        assert_eq!(items.len(), 1062);
        let cities: BTreeSet<&str> = items.iter().map(|i| i.provider.city.as_str()).collect();
        let categories: BTreeSet<&str> = items.iter().map(|i| i.category.as_str()).collect();
        assert_eq!((cities.len(), categories.len()), (9, 18));
        assert!(items
            .iter()
            .all(|i| (3..=6).contains(&i.permits.len()) && (5..=12).contains(&i.fields.len())));
        assert!(items.iter().any(|i| !i.forbids.is_empty()));
        let files = render_files(&items);
        assert_eq!(files.len(), 18);
        let catalog = Catalog::embedded().expect("catalog");
        let set = PolicySet::parse(&files, &catalog, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(set.items().len(), items.len());
        assert_eq!(rules(set.items()), rules(&items));
        // and it is the same policy, not just as many rules
        let mut loaded = normalised(set.items());
        loaded.sort_by(|a, b| a.id.cmp(&b.id));
        let mut built = normalised(&items);
        built.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(loaded, built);
        // one file of everything loads too
        let one = vec![("all.toml".to_owned(), render_toml(&items[..50]))];
        let set = PolicySet::parse(&one, &catalog, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(set.items().len(), 50);
    }

    #[test]
    fn deterministic_for_a_seed() {
        assert_eq!(generate(200, 7), generate(200, 7));
        assert_ne!(generate(200, 7), generate(200, 8));
    }
}
