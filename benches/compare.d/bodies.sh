# shellcheck shell=bash
# benches/compare: the three upstream answers of the exchange scenarios and the bench items that
# filter them. Sourced by benches/compare (and by nothing else); deterministic, no randomness.
#
#   tiny  {"a":1}                                       item BENCH-TINY, keeps `a`
#   1k    ~1 KiB of nested JSON, 36 leaves              item BENCH-1K, keeps 30, one masked
#   16k   ~16 KiB: 200 records of 5 leaves each         item BENCH-16K, keeps records[].amount

readonly BODIES="tiny 1k 16k"

# body NAME: the upstream's answer, one line, no trailing newline.
body() {
    case $1 in
    tiny) printf '{"a":1}' ;;
    1k)
        printf '%s' '{"case":{"no":"GS-2026-000123","status":"VALID","type":"住房公积金缴存","opened":"2019-07-01","updated":"2026-11-20T10:31:00+08:00","branch":"武汉市住房公积金管理中心江岸分中心","window":"江岸区政务服务中心三楼12号窗口","channel":"一网通办"},'
        printf '%s' '"holder":{"name":"张三丰","id_number":"420106199001011234","gender":"M","birth":"1990-01-01","phone":"13812345678","address":"武汉市江岸区沿江大道188号","nation":"汉"},'
        printf '%s' '"account":{"no":"4201000012345678","balance":123456.78,"monthly":2400.0,"rate":0.12,"status":"NORMAL","since":"2019-07-01","bank":"中国建设银行武汉江岸支行"},'
        printf '%s' '"employer":{"name":"武汉示例科技有限公司","uscc":"91420100MA4K12345K","contact":{"name":"李四","phone":"027-88886666"},"address":"武汉市东湖新技术开发区高新大道999号"},'
        printf '%s' '"history":{"last_deposit":"2026-10-15","last_amount":2400.0,"months":88,"channel":"单位汇缴","remark":"材料齐全，已通过窗口核验"},'
        printf '%s' '"flags":{"frozen":false,"loan":true,"arrears":null}}'
        ;;
    16k)
        awk 'BEGIN {
            printf "{\"records\":["
            for (i = 1; i <= 200; i++) {
                printf "%s{\"id\":\"R%04d\",\"date\":\"2025-%02d-%02d\",\"amount\":%d.%02d,\"type\":\"DEP\",\"note\":\"按月\"}", (i > 1 ? "," : ""), i, (i % 12) + 1, (i % 28) + 1, 1000 + i * 7, i % 100
            }
            printf "]}"
        }'
        ;;
    *) die "no body '$1'" ;;
    esac
}

# body_item NAME: the bench item's id for a body (BENCH-TINY, BENCH-1K, BENCH-16K).
body_item() {
    printf 'BENCH-%s' "${1^^}"
}

# bench_items CALLER PURPOSE: the policy file of the three bench items, each on its own upstream
# (bench-tiny, bench-1k, bench-16k); CALLER (CITY/DEPT) may call them for PURPOSE.
bench_items() {
    local caller=$1 purpose=$2
    cat <<EOT
# benches/compare: the items of the exchange scenarios (their upstreams answer bodies.sh's bodies)
[[item]]
id = "BENCH-TINY"
name = "基准测试 最小应答"
category = "政务服务"
provider = "420100/GOV_SERVICE"
upstream = "bench-tiny"
methods = ["GET"]
fields = ["a"]
legal_basis = "基准测试（benches/compare）"

[[item.permit]]
id = "bench-tiny"
callers = ["$caller"]
purposes = ["$purpose"]
fields = ["a"]

[[item]]
id = "BENCH-1K"
name = "基准测试 住房公积金缴存信息"
category = "住房公积金"
provider = "420100/HOUSING_FUND"
upstream = "bench-1k"
methods = ["GET"]
fields = ["case", "holder.name", "holder.id_number", "holder.gender", "holder.birth", "holder.phone",
          "holder.address", "holder.nation", "account", "employer.name", "employer.uscc",
          "employer.contact", "employer.address", "history", "flags"]
legal_basis = "基准测试（benches/compare）"

[[item.permit]]
id = "bench-1k"
callers = ["$caller"]
purposes = ["$purpose"]
fields = ["case", "holder.name", "holder.id_number", "holder.gender", "holder.birth", "account",
          "employer.name", "employer.uscc", "history", "flags"]
mask = { "holder.id_number" = "id_number" }

[[item]]
id = "BENCH-16K"
name = "基准测试 缴存明细"
category = "住房公积金"
provider = "420100/HOUSING_FUND"
upstream = "bench-16k"
methods = ["GET"]
fields = ["records[].id", "records[].date", "records[].amount", "records[].type", "records[].note"]
legal_basis = "基准测试（benches/compare）"

[[item.permit]]
id = "bench-16k"
callers = ["$caller"]
purposes = ["$purpose"]
fields = ["records[].amount"]
EOT
}
