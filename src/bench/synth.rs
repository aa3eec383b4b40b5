//! Generated customer records with known duplicates, for the scale benchmark
//! (`tributary bench master`).
//!
//! Each entity is a company with a Chinese or an English name, a USCC (most valid, some
//! missing), a city, postal code, street address, phone and e-mail. Its records come from up to
//! three sources, each written the way real systems spell the same company differently: legal
//! form variants, a bracketed or leading city, full-width characters, a typo, a missing or
//! mistyped tax ID, a reformatted phone, another e-mail case, a moved address. The generator
//! is seeded, so the same arguments give the same records.

use fastrand::Rng;

use crate::model::Customer;

use crate::reconcile::taxid::uscc_check_char;

/// A generated record with its true entity.
#[derive(Debug, Clone)]
pub struct SynthRecord {
    /// The source that holds it.
    pub source: &'static str,
    /// The customer.
    pub customer: Customer,
    /// The entity it belongs to.
    pub entity: u32,
}

const CJK: &str = "华达泰盛隆兴恒昌鑫源宏远丰瑞嘉祥和安康泽润星辰光明凯旋腾飞鹏程锦绣云海天成金石银河蓝海绿洲新力博通智创科信德诚佳禾美景汇聚联合永旺万通";
const CJK_TRADES: &[&str] = &[
    "科技",
    "贸易",
    "机电",
    "电子",
    "物流",
    "水务设备",
    "精密机械",
    "建材",
    "化工",
    "食品",
    "医疗器械",
    "汽车配件",
    "包装材料",
    "纺织",
    "家具",
    "照明",
    "环保工程",
    "软件",
    "仪器仪表",
    "五金",
];
const CJK_FORMS: &[&str] = &["有限公司", "有限责任公司", "股份有限公司"];
const CITIES: &[(&str, &str, &str, &str)] = &[
    ("深圳", "Shenzhen", "518", "755"),
    ("广州", "Guangzhou", "510", "20"),
    ("上海", "Shanghai", "200", "21"),
    ("北京", "Beijing", "100", "10"),
    ("杭州", "Hangzhou", "310", "571"),
    ("南京", "Nanjing", "210", "25"),
    ("成都", "Chengdu", "610", "28"),
    ("武汉", "Wuhan", "430", "27"),
    ("苏州", "Suzhou", "215", "512"),
    ("天津", "Tianjin", "300", "22"),
    ("重庆", "Chongqing", "400", "23"),
    ("西安", "Xi'an", "710", "29"),
];
const LATIN: &[&str] = &[
    "Acme",
    "Apex",
    "Summit",
    "Pioneer",
    "Harbor",
    "Golden",
    "Pacific",
    "Orient",
    "Silver",
    "Eagle",
    "Phoenix",
    "Dragon",
    "Lotus",
    "Jade",
    "Crown",
    "Royal",
    "Union",
    "Global",
    "Prime",
    "Star",
    "River",
    "Mountain",
    "Ocean",
    "Sunrise",
    "Evergreen",
    "Bright",
    "Unity",
    "Vertex",
    "Nova",
    "Zenith",
    "Atlas",
    "Titan",
    "Delta",
    "Omega",
    "Sigma",
    "Vector",
    "Matrix",
    "Fusion",
    "Quantum",
    "Crystal",
];
const LATIN_TRADES: &[&str] = &[
    "Technology",
    "Trading",
    "Electronics",
    "Logistics",
    "Machinery",
    "Materials",
    "Chemicals",
    "Foods",
    "Medical",
    "Auto Parts",
    "Packaging",
    "Textiles",
    "Lighting",
    "Software",
    "Instruments",
    "Hardware",
];
const LATIN_FORMS: &[(&str, &str)] = &[
    ("Co., Ltd.", "Company Limited"),
    ("Co., Ltd.", "CO LTD"),
    ("Limited", "Ltd."),
    ("Inc.", "Incorporated"),
    ("Corp.", "Corporation"),
];
const ROADS: &[&str] = &[
    "科技园路",
    "人民路",
    "中山路",
    "建设大道",
    "解放路",
    "滨江路",
    "工业大道",
    "创业路",
    "新华路",
    "长江路",
];
const SOURCES: [&str; 3] = ["erp", "crm", "dealer"];

/// One of `items`, at random.
pub(super) fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
    &items[rng.usize(..items.len())]
}

fn cjk_chars(rng: &mut Rng, n: usize) -> String {
    let chars: Vec<char> = CJK.chars().collect();
    (0..n).map(|_| chars[rng.usize(..chars.len())]).collect()
}

fn uscc(rng: &mut Rng) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let mut first = String::from("9144");
    for _ in 0..13 {
        first.push(ALPHABET[rng.usize(..ALPHABET.len())] as char);
    }
    let check = uscc_check_char(&first).expect("generated from the alphabet");
    first.push(check);
    first
}

/// One entity's true values.
struct Entity {
    chinese: bool,
    core: String,
    trade: usize,
    form: usize,
    city: usize,
    tax: Option<String>,
    street_no: u32,
    road: usize,
    postal: String,
    phone: String,
    email: String,
}

fn entity(rng: &mut Rng) -> Entity {
    let chinese = rng.f64() < 0.7;
    let city = rng.usize(..CITIES.len());
    let core = if chinese {
        let n = 2 + usize::from(rng.bool());
        cjk_chars(rng, n + 1)
    } else {
        format!(
            "{} {} {}",
            pick(rng, LATIN),
            pick(rng, LATIN),
            pick(rng, LATIN)
        )
    };
    let trade = rng.usize(
        ..if chinese {
            CJK_TRADES.len()
        } else {
            LATIN_TRADES.len()
        },
    );
    let form = rng.usize(
        ..if chinese {
            CJK_FORMS.len()
        } else {
            LATIN_FORMS.len()
        },
    );
    let slug: String = format!("c{}", rng.u32(..)).chars().take(9).collect();
    Entity {
        chinese,
        core,
        trade,
        form,
        city,
        tax: (rng.f64() < 0.8).then(|| uscc(rng)),
        street_no: rng.u32(1..999),
        road: rng.usize(..ROADS.len()),
        postal: format!("{}{:03}", CITIES[city].2, rng.u32(..1000)),
        phone: format!("{}{:08}", CITIES[city].3, rng.u32(10_000_000..99_999_999)),
        email: format!("finance@{slug}.com.cn"),
    }
}

/// Drops or swaps one character (a typo).
fn typo(rng: &mut Rng, s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    if chars.len() < 4 {
        return s.to_string();
    }
    let i = rng.usize(1..chars.len() - 1);
    if rng.bool() {
        chars.remove(i);
    } else {
        chars.swap(i, i + 1);
    }
    chars.into_iter().collect()
}

fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
            ' ' => '\u{3000}',
            _ => c,
        })
        .collect()
}

/// One source's record of an entity; `variant` 0 is the clean one.
fn record(rng: &mut Rng, e: &Entity, variant: usize, key: String) -> Customer {
    let (cn, en, _, area) = CITIES[e.city];
    let mut name = if e.chinese {
        let trade = CJK_TRADES[e.trade];
        let form = CJK_FORMS[e.form];
        match variant {
            0 => format!("{cn}市{}{trade}{form}", e.core),
            1 => format!("{}{trade}({cn}){form}", e.core),
            _ => format!(
                "{}{trade}{}",
                e.core,
                CJK_FORMS[(e.form + 1) % CJK_FORMS.len()]
            ),
        }
    } else {
        let trade = LATIN_TRADES[e.trade];
        let (a, b) = LATIN_FORMS[e.form];
        match variant {
            0 => format!("{} {trade} {a}", e.core),
            1 => format!("{} {trade} {b}", e.core.to_uppercase()),
            _ => format!("{} {trade} ({en}) {a}", e.core),
        }
    };
    if variant > 0 && rng.f64() < 0.15 {
        name = typo(rng, &name);
    }
    if variant > 0 && rng.f64() < 0.1 {
        name = full_width(&name);
    }
    let tax = match (&e.tax, variant) {
        (Some(t), 0) => Some(t.clone()),
        (Some(t), _) if rng.f64() < 0.5 => Some(t.clone()),
        (Some(t), _) if rng.f64() < 0.2 => Some(typo(rng, t)),
        _ => None,
    };
    let road = ROADS[e.road];
    let address = if variant > 0 && rng.f64() < 0.1 {
        format!("{}{}号", pick(rng, ROADS), rng.u32(1..999))
    } else if e.chinese || variant == 0 {
        format!("{road}{}号", e.street_no)
    } else {
        format!("No. {} {road}, {en}", e.street_no)
    };
    let phone = match variant {
        0 => format!("+86 {area} {}", &e.phone[area.len()..]),
        1 => format!("0{area}-{}", &e.phone[area.len()..]),
        _ => format!("86{}", e.phone),
    };
    let email = if variant == 1 {
        e.email.to_uppercase()
    } else {
        e.email.clone()
    };
    let drop = |rng: &mut Rng, v: String| (variant == 0 || rng.f64() > 0.15).then_some(v);
    let mut c: Customer = serde_json::from_value(serde_json::json!({
        "source_key": key,
        "name": name,
    }))
    .expect("a minimal customer");
    c.tax_id = tax;
    c.country = Some("CN".into());
    c.city = drop(
        rng,
        if variant == 1 {
            en.into()
        } else {
            format!("{cn}市")
        },
    );
    c.postal_code = drop(rng, e.postal.clone());
    c.address = drop(rng, address);
    c.phone = drop(rng, phone);
    c.email = drop(rng, email);
    c
}

/// `records` records of about `records × 0.8` entities: each entity has one record in the ERP
/// and, with the rest, more in the CRM and the dealer system. Keys are unique per source.
/// `first_entity` numbers the entities (to generate later batches of new entities).
pub fn generate(records: usize, seed: u64, first_entity: u32) -> Vec<SynthRecord> {
    let mut rng = Rng::with_seed(seed);
    let mut out = Vec::with_capacity(records);
    let mut next = first_entity;
    while out.len() < records {
        let e = entity(&mut rng);
        let copies = match rng.f64() {
            x if x < 0.8 => 1,
            x if x < 0.95 => 2,
            _ => 3,
        }
        .min(records - out.len());
        for (variant, source) in SOURCES.iter().enumerate().take(copies) {
            let customer = record(&mut rng, &e, variant, format!("{}-{next}", &source[..1]));
            out.push(SynthRecord {
                source,
                customer,
                entity: next,
            });
        }
        next += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::taxid;

    #[test]
    fn generation_is_repeatable_and_shaped_as_asked() {
        let a = generate(500, 7, 0);
        let b = generate(500, 7, 0);
        assert_eq!(a.len(), 500);
        assert_eq!(
            a.iter().map(|r| &r.customer.name).collect::<Vec<_>>(),
            b.iter().map(|r| &r.customer.name).collect::<Vec<_>>()
        );
        let entities: std::collections::HashSet<u32> = a.iter().map(|r| r.entity).collect();
        assert!((350..480).contains(&entities.len()), "{}", entities.len());
        // Clean ERP records carry valid USCCs when the entity has one.
        let valid = a
            .iter()
            .filter(|r| r.source == "erp")
            .filter(|r| taxid::valid(r.customer.tax_id.as_deref()).is_some())
            .count();
        assert!(valid > 250, "{valid}");
        let keys: std::collections::HashSet<(&str, &str)> = a
            .iter()
            .map(|r| (r.source, r.customer.source_key.as_str()))
            .collect();
        assert_eq!(keys.len(), 500);
    }
}
