//! The response filter: its cost grows with the body (linear: the same time per byte from 1 KiB
//! to 256 KiB) and not with the number of permits behind the field plan (1 to 1,000 permits
//! merged into one plan filter a body in the same time).
//!
//! `cargo bench --bench filter`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tongban::policy::filter::filter;
use tongban::policy::mask::MaskKey;
use tongban::policy::model::{FieldPath, MaskMethod};
use tongban::policy::plan::FieldPlan;
use tongban::policy::synthetic::Rng;

/// `{"records":[…]}` of `n` records of five fields (about 80 bytes each).
fn records(n: usize) -> Vec<u8> {
    let mut body = String::from("{\"records\":[");
    for i in 0..n {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            "{{\"id\":\"R{i:06}\",\"date\":\"2025-{:02}-{:02}\",\"amount\":{}.{:02},\"holder\":\"张三丰\",\"note\":\"按月缴存\"}}",
            i % 12 + 1,
            i % 28 + 1,
            1000 + i * 7,
            i % 100
        ));
    }
    body.push_str("]}");
    body.into_bytes()
}

fn path(text: &str) -> FieldPath {
    FieldPath::parse(text).unwrap_or_else(|| panic!("bad path {text}"))
}

fn by_size(c: &mut Criterion) {
    let key = MaskKey::new(b"bench");
    let fields = [path("records[].amount"), path("records[].holder")];
    let masks = [(path("records[].holder"), MaskMethod::Name)];
    let plan = FieldPlan::compile([(&fields[..], &masks[..])]);
    let mut group = c.benchmark_group("filter_by_size");
    for n in [12, 50, 200, 800, 3200] {
        let body = records(n);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{}B", body.len())),
            &body,
            |b, body| b.iter(|| filter(body, &plan, &key).map(|(out, _)| out.len())),
        );
    }
    group.finish();
}

/// The paths of the 1 KiB body of `benches/compare` (`benches/compare.d/bodies.sh`).
const PATHS: [&str; 12] = [
    "case",
    "holder.name",
    "holder.id_number",
    "holder.gender",
    "holder.birth",
    "holder.phone",
    "account",
    "employer.name",
    "employer.uscc",
    "employer.contact",
    "history",
    "flags",
];

const BODY_1K: &str = r#"{"case":{"no":"GS-2026-000123","status":"VALID","type":"住房公积金缴存","opened":"2019-07-01","updated":"2026-11-20T10:31:00+08:00","branch":"武汉市住房公积金管理中心江岸分中心","window":"江岸区政务服务中心三楼12号窗口","channel":"一网通办"},"holder":{"name":"张三丰","id_number":"420106199001011234","gender":"M","birth":"1990-01-01","phone":"13812345678","address":"武汉市江岸区沿江大道188号","nation":"汉"},"account":{"no":"4201000012345678","balance":123456.78,"monthly":2400.0,"rate":0.12,"status":"NORMAL","since":"2019-07-01","bank":"中国建设银行武汉江岸支行"},"employer":{"name":"武汉示例科技有限公司","uscc":"91420100MA4K12345K","contact":{"name":"李四","phone":"027-88886666"},"address":"武汉市东湖新技术开发区高新大道999号"},"history":{"last_deposit":"2026-10-15","last_amount":2400.0,"months":88,"channel":"单位汇缴","remark":"材料齐全，已通过窗口核验"},"flags":{"frozen":false,"loan":true,"arrears":null}}"#;

/// One permit's fields and masks.
type Grant = (Vec<FieldPath>, Vec<(FieldPath, MaskMethod)>);

fn by_permits(c: &mut Criterion) {
    let key = MaskKey::new(b"bench");
    let body = BODY_1K.as_bytes();
    let mut group = c.benchmark_group("filter_by_permits");
    group.throughput(Throughput::Bytes(body.len() as u64));
    for permits in [1, 10, 100, 1000] {
        // each permit grants a random half of the paths and masks one of them
        let mut rng = Rng::new(permits as u64);
        let grants: Vec<Grant> = (0..permits)
            .map(|_| {
                let fields: Vec<FieldPath> = PATHS
                    .iter()
                    .filter(|_| rng.chance(50))
                    .map(|p| path(p))
                    .collect();
                let masks = vec![(path(rng.pick::<&str>(&PATHS)), MaskMethod::Redact)];
                (fields, masks)
            })
            .collect();
        let plan = FieldPlan::compile(grants.iter().map(|(f, m)| (f.as_slice(), m.as_slice())));
        group.bench_with_input(BenchmarkId::from_parameter(permits), &plan, |b, plan| {
            b.iter(|| filter(body, plan, &key).map(|(out, _)| out.len()))
        });
    }
    group.finish();
}

criterion_group!(benches, by_size, by_permits);
criterion_main!(benches);
