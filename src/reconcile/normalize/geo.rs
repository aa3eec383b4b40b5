//! Chinese administrative geography for matching: which province a prefecture-level city is
//! in, the pinyin (English) forms of provinces and major cities, and the place a company name
//! carries (`长城建材（杭州）有限公司`, `杭州市长城建材有限公司`, `Acme Trading (Shenzhen) Co.,
//! Ltd.`).
//!
//! Places are written as their Chinese stems without 省 / 市 / 自治区 (`深圳`, `广东`), so
//! `Shenzhen`, `深圳市` and `深圳` are one city, and a city is known to lie in its province
//! (深圳 ⊂ 广东). Municipalities (北京, 上海, 天津, 重庆) and the special administrative regions
//! are their own province.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::places::strip_place_prefixes;
use super::{clean_words, is_cjk, to_half_width};

/// Province (stem) → its prefecture-level cities (stems). Municipalities list themselves.
const PREFECTURES: &[(&str, &[&str])] = &[
    ("北京", &["北京"]),
    ("上海", &["上海"]),
    ("天津", &["天津"]),
    ("重庆", &["重庆"]),
    ("香港", &["香港"]),
    ("澳门", &["澳门"]),
    (
        "河北",
        &[
            "石家庄",
            "唐山",
            "秦皇岛",
            "邯郸",
            "邢台",
            "保定",
            "张家口",
            "承德",
            "沧州",
            "廊坊",
            "衡水",
        ],
    ),
    (
        "山西",
        &[
            "太原", "大同", "阳泉", "长治", "晋城", "朔州", "晋中", "运城", "忻州", "临汾", "吕梁",
        ],
    ),
    (
        "内蒙古",
        &[
            "呼和浩特",
            "包头",
            "乌海",
            "赤峰",
            "通辽",
            "鄂尔多斯",
            "呼伦贝尔",
            "巴彦淖尔",
            "乌兰察布",
        ],
    ),
    (
        "辽宁",
        &[
            "沈阳",
            "大连",
            "鞍山",
            "抚顺",
            "本溪",
            "丹东",
            "锦州",
            "营口",
            "阜新",
            "辽阳",
            "盘锦",
            "铁岭",
            "朝阳",
            "葫芦岛",
        ],
    ),
    (
        "吉林",
        &[
            "长春", "吉林", "四平", "辽源", "通化", "白山", "松原", "白城",
        ],
    ),
    (
        "黑龙江",
        &[
            "哈尔滨",
            "齐齐哈尔",
            "鸡西",
            "鹤岗",
            "双鸭山",
            "大庆",
            "伊春",
            "佳木斯",
            "七台河",
            "牡丹江",
            "黑河",
            "绥化",
        ],
    ),
    (
        "江苏",
        &[
            "南京",
            "无锡",
            "徐州",
            "常州",
            "苏州",
            "南通",
            "连云港",
            "淮安",
            "盐城",
            "扬州",
            "镇江",
            "泰州",
            "宿迁",
        ],
    ),
    (
        "浙江",
        &[
            "杭州", "宁波", "温州", "嘉兴", "湖州", "绍兴", "金华", "衢州", "舟山", "台州", "丽水",
        ],
    ),
    (
        "安徽",
        &[
            "合肥",
            "芜湖",
            "蚌埠",
            "淮南",
            "马鞍山",
            "淮北",
            "铜陵",
            "安庆",
            "黄山",
            "滁州",
            "阜阳",
            "宿州",
            "六安",
            "亳州",
            "池州",
            "宣城",
        ],
    ),
    (
        "福建",
        &[
            "福州", "厦门", "莆田", "三明", "泉州", "漳州", "南平", "龙岩", "宁德",
        ],
    ),
    (
        "江西",
        &[
            "南昌",
            "景德镇",
            "萍乡",
            "九江",
            "新余",
            "鹰潭",
            "赣州",
            "吉安",
            "宜春",
            "抚州",
            "上饶",
        ],
    ),
    (
        "山东",
        &[
            "济南", "青岛", "淄博", "枣庄", "东营", "烟台", "潍坊", "济宁", "泰安", "威海", "日照",
            "临沂", "德州", "聊城", "滨州", "菏泽",
        ],
    ),
    (
        "河南",
        &[
            "郑州",
            "开封",
            "洛阳",
            "平顶山",
            "安阳",
            "鹤壁",
            "新乡",
            "焦作",
            "濮阳",
            "许昌",
            "漯河",
            "三门峡",
            "南阳",
            "商丘",
            "信阳",
            "周口",
            "驻马店",
        ],
    ),
    (
        "湖北",
        &[
            "武汉", "黄石", "十堰", "宜昌", "襄阳", "鄂州", "荆门", "孝感", "荆州", "黄冈", "咸宁",
            "随州",
        ],
    ),
    (
        "湖南",
        &[
            "长沙",
            "株洲",
            "湘潭",
            "衡阳",
            "邵阳",
            "岳阳",
            "常德",
            "张家界",
            "益阳",
            "郴州",
            "永州",
            "怀化",
            "娄底",
        ],
    ),
    (
        "广东",
        &[
            "广州", "韶关", "深圳", "珠海", "汕头", "佛山", "江门", "湛江", "茂名", "肇庆", "惠州",
            "梅州", "汕尾", "河源", "阳江", "清远", "东莞", "中山", "潮州", "揭阳", "云浮",
        ],
    ),
    (
        "广西",
        &[
            "南宁",
            "柳州",
            "桂林",
            "梧州",
            "北海",
            "防城港",
            "钦州",
            "贵港",
            "玉林",
            "百色",
            "贺州",
            "河池",
            "来宾",
            "崇左",
        ],
    ),
    ("海南", &["海口", "三亚", "三沙", "儋州"]),
    (
        "四川",
        &[
            "成都",
            "自贡",
            "攀枝花",
            "泸州",
            "德阳",
            "绵阳",
            "广元",
            "遂宁",
            "内江",
            "乐山",
            "南充",
            "眉山",
            "宜宾",
            "广安",
            "达州",
            "雅安",
            "巴中",
            "资阳",
        ],
    ),
    ("贵州", &["贵阳", "六盘水", "遵义", "安顺", "毕节", "铜仁"]),
    (
        "云南",
        &[
            "昆明", "曲靖", "玉溪", "保山", "昭通", "丽江", "普洱", "临沧",
        ],
    ),
    ("西藏", &["拉萨", "日喀则", "昌都", "林芝", "山南", "那曲"]),
    (
        "陕西",
        &[
            "西安", "铜川", "宝鸡", "咸阳", "渭南", "延安", "汉中", "榆林", "安康", "商洛",
        ],
    ),
    (
        "甘肃",
        &[
            "兰州",
            "嘉峪关",
            "金昌",
            "白银",
            "天水",
            "武威",
            "张掖",
            "平凉",
            "酒泉",
            "庆阳",
            "定西",
            "陇南",
        ],
    ),
    ("青海", &["西宁", "海东"]),
    ("宁夏", &["银川", "石嘴山", "吴忠", "固原", "中卫"]),
    ("新疆", &["乌鲁木齐", "克拉玛依", "吐鲁番", "哈密"]),
    ("台湾", &["台北", "新北", "桃园", "台中", "台南", "高雄"]),
];

/// Pinyin and English forms (lower-case, without spaces, apostrophes or hyphens) of the
/// provinces and the major cities.
const PINYIN: &[(&str, &str)] = &[
    // Provinces, autonomous regions, municipalities, SARs.
    ("beijing", "北京"),
    ("peking", "北京"),
    ("shanghai", "上海"),
    ("tianjin", "天津"),
    ("chongqing", "重庆"),
    ("hongkong", "香港"),
    ("macau", "澳门"),
    ("macao", "澳门"),
    ("hebei", "河北"),
    ("shanxi", "山西"),
    ("innermongolia", "内蒙古"),
    ("neimenggu", "内蒙古"),
    ("liaoning", "辽宁"),
    ("jilin", "吉林"),
    ("heilongjiang", "黑龙江"),
    ("jiangsu", "江苏"),
    ("zhejiang", "浙江"),
    ("anhui", "安徽"),
    ("fujian", "福建"),
    ("jiangxi", "江西"),
    ("shandong", "山东"),
    ("henan", "河南"),
    ("hubei", "湖北"),
    ("hunan", "湖南"),
    ("guangdong", "广东"),
    ("guangxi", "广西"),
    ("hainan", "海南"),
    ("sichuan", "四川"),
    ("guizhou", "贵州"),
    ("yunnan", "云南"),
    ("tibet", "西藏"),
    ("xizang", "西藏"),
    ("shaanxi", "陕西"),
    ("gansu", "甘肃"),
    ("qinghai", "青海"),
    ("ningxia", "宁夏"),
    ("xinjiang", "新疆"),
    ("taiwan", "台湾"),
    // Cities.
    ("shijiazhuang", "石家庄"),
    ("tangshan", "唐山"),
    ("baoding", "保定"),
    ("langfang", "廊坊"),
    ("qinhuangdao", "秦皇岛"),
    ("handan", "邯郸"),
    ("taiyuan", "太原"),
    ("datong", "大同"),
    ("hohhot", "呼和浩特"),
    ("huhehaote", "呼和浩特"),
    ("baotou", "包头"),
    ("ordos", "鄂尔多斯"),
    ("shenyang", "沈阳"),
    ("dalian", "大连"),
    ("anshan", "鞍山"),
    ("changchun", "长春"),
    ("harbin", "哈尔滨"),
    ("haerbin", "哈尔滨"),
    ("daqing", "大庆"),
    ("nanjing", "南京"),
    ("wuxi", "无锡"),
    ("xuzhou", "徐州"),
    ("changzhou", "常州"),
    ("suzhou", "苏州"),
    ("nantong", "南通"),
    ("yangzhou", "扬州"),
    ("zhenjiang", "镇江"),
    ("taizhou", "台州"),
    ("yancheng", "盐城"),
    ("lianyungang", "连云港"),
    ("huaian", "淮安"),
    ("hangzhou", "杭州"),
    ("ningbo", "宁波"),
    ("wenzhou", "温州"),
    ("jiaxing", "嘉兴"),
    ("huzhou", "湖州"),
    ("shaoxing", "绍兴"),
    ("jinhua", "金华"),
    ("zhoushan", "舟山"),
    ("hefei", "合肥"),
    ("wuhu", "芜湖"),
    ("fuzhou", "福州"),
    ("xiamen", "厦门"),
    ("amoy", "厦门"),
    ("quanzhou", "泉州"),
    ("zhangzhou", "漳州"),
    ("putian", "莆田"),
    ("nanchang", "南昌"),
    ("ganzhou", "赣州"),
    ("jiujiang", "九江"),
    ("jinan", "济南"),
    ("qingdao", "青岛"),
    ("yantai", "烟台"),
    ("weifang", "潍坊"),
    ("zibo", "淄博"),
    ("linyi", "临沂"),
    ("jining", "济宁"),
    ("weihai", "威海"),
    ("dongying", "东营"),
    ("zhengzhou", "郑州"),
    ("luoyang", "洛阳"),
    ("kaifeng", "开封"),
    ("wuhan", "武汉"),
    ("yichang", "宜昌"),
    ("xiangyang", "襄阳"),
    ("changsha", "长沙"),
    ("zhuzhou", "株洲"),
    ("xiangtan", "湘潭"),
    ("yueyang", "岳阳"),
    ("changde", "常德"),
    ("guangzhou", "广州"),
    ("canton", "广州"),
    ("shenzhen", "深圳"),
    ("zhuhai", "珠海"),
    ("shantou", "汕头"),
    ("foshan", "佛山"),
    ("jiangmen", "江门"),
    ("zhanjiang", "湛江"),
    ("zhaoqing", "肇庆"),
    ("huizhou", "惠州"),
    ("dongguan", "东莞"),
    ("zhongshan", "中山"),
    ("nanning", "南宁"),
    ("liuzhou", "柳州"),
    ("guilin", "桂林"),
    ("haikou", "海口"),
    ("sanya", "三亚"),
    ("chengdu", "成都"),
    ("mianyang", "绵阳"),
    ("yibin", "宜宾"),
    ("guiyang", "贵阳"),
    ("zunyi", "遵义"),
    ("kunming", "昆明"),
    ("lhasa", "拉萨"),
    ("xian", "西安"),
    ("xianyang", "咸阳"),
    ("baoji", "宝鸡"),
    ("lanzhou", "兰州"),
    ("xining", "西宁"),
    ("yinchuan", "银川"),
    ("urumqi", "乌鲁木齐"),
    ("wulumuqi", "乌鲁木齐"),
    ("taipei", "台北"),
    ("kaohsiung", "高雄"),
    ("taichung", "台中"),
];

/// Provinces by the first two digits of a postal code (the national scheme: 51–52 Guangdong,
/// 31–32 Zhejiang …).
const POSTAL_PREFIXES: &[(&str, &[u8])] = &[
    ("内蒙古", &[1, 2]),
    ("山西", &[3, 4]),
    ("河北", &[5, 6, 7]),
    ("北京", &[10]),
    ("辽宁", &[11, 12]),
    ("吉林", &[13]),
    ("黑龙江", &[15, 16]),
    ("上海", &[20]),
    ("江苏", &[21, 22]),
    ("安徽", &[23, 24]),
    ("山东", &[25, 26, 27]),
    ("天津", &[30]),
    ("浙江", &[31, 32]),
    ("江西", &[33, 34]),
    ("福建", &[35, 36]),
    ("重庆", &[40]),
    ("湖南", &[41, 42]),
    ("湖北", &[43, 44]),
    ("河南", &[45, 46, 47]),
    ("广东", &[51, 52]),
    ("广西", &[53, 54]),
    ("贵州", &[55, 56]),
    ("海南", &[57]),
    ("四川", &[61, 62, 63, 64]),
    ("云南", &[65, 66, 67]),
    ("陕西", &[71, 72]),
    ("甘肃", &[73, 74]),
    ("宁夏", &[75]),
    ("青海", &[81]),
    ("新疆", &[83, 84]),
    ("西藏", &[85, 86]),
];

/// Landline area codes (without the trunk 0) of the municipalities, provincial capitals and
/// major cities.
const AREA_CODES: &[(&str, &str)] = &[
    ("10", "北京"),
    ("21", "上海"),
    ("22", "天津"),
    ("23", "重庆"),
    ("20", "广州"),
    ("24", "沈阳"),
    ("25", "南京"),
    ("27", "武汉"),
    ("28", "成都"),
    ("29", "西安"),
    ("311", "石家庄"),
    ("312", "保定"),
    ("315", "唐山"),
    ("351", "太原"),
    ("371", "郑州"),
    ("379", "洛阳"),
    ("411", "大连"),
    ("431", "长春"),
    ("451", "哈尔滨"),
    ("459", "大庆"),
    ("471", "呼和浩特"),
    ("472", "包头"),
    ("510", "无锡"),
    ("512", "苏州"),
    ("513", "南通"),
    ("514", "扬州"),
    ("516", "徐州"),
    ("519", "常州"),
    ("511", "镇江"),
    ("515", "盐城"),
    ("523", "泰州"),
    ("517", "淮安"),
    ("518", "连云港"),
    ("531", "济南"),
    ("532", "青岛"),
    ("533", "淄博"),
    ("535", "烟台"),
    ("536", "潍坊"),
    ("537", "济宁"),
    ("539", "临沂"),
    ("631", "威海"),
    ("546", "东营"),
    ("551", "合肥"),
    ("553", "芜湖"),
    ("571", "杭州"),
    ("572", "湖州"),
    ("573", "嘉兴"),
    ("574", "宁波"),
    ("575", "绍兴"),
    ("576", "台州"),
    ("577", "温州"),
    ("579", "金华"),
    ("580", "舟山"),
    ("591", "福州"),
    ("592", "厦门"),
    ("594", "莆田"),
    ("595", "泉州"),
    ("596", "漳州"),
    ("710", "襄阳"),
    ("717", "宜昌"),
    ("731", "长沙"),
    ("733", "株洲"),
    ("730", "岳阳"),
    ("736", "常德"),
    ("750", "江门"),
    ("751", "韶关"),
    ("752", "惠州"),
    ("754", "汕头"),
    ("755", "深圳"),
    ("756", "珠海"),
    ("757", "佛山"),
    ("758", "肇庆"),
    ("759", "湛江"),
    ("760", "中山"),
    ("769", "东莞"),
    ("771", "南宁"),
    ("772", "柳州"),
    ("773", "桂林"),
    ("791", "南昌"),
    ("792", "九江"),
    ("797", "赣州"),
    ("816", "绵阳"),
    ("831", "宜宾"),
    ("851", "贵阳"),
    ("852", "遵义"),
    ("871", "昆明"),
    ("891", "拉萨"),
    ("898", "海口"),
    ("899", "三亚"),
    ("917", "宝鸡"),
    ("931", "兰州"),
    ("951", "银川"),
    ("971", "西宁"),
    ("991", "乌鲁木齐"),
];

/// A place: its province (stem) and, when known, the city (stem).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// Province, autonomous region, municipality or SAR, e.g. `广东`.
    pub province: &'static str,
    /// Prefecture-level city, e.g. `深圳`.
    pub city: Option<&'static str>,
}

struct Tables {
    province_of: HashMap<&'static str, &'static str>,
    provinces: Vec<&'static str>,
    pinyin: HashMap<&'static str, &'static str>,
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let mut province_of = HashMap::new();
    for (province, cities) in PREFECTURES {
        for city in *cities {
            province_of.insert(*city, *province);
        }
    }
    Tables {
        province_of,
        provinces: PREFECTURES.iter().map(|(p, _)| *p).collect(),
        pinyin: PINYIN.iter().copied().collect(),
    }
});

/// Administrative suffixes, longest first.
const SUFFIXES: &[&str] = &[
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "特别行政区",
    "自治区",
    "省",
    "市",
];

/// English words that only say what kind of place follows or precedes.
const LATIN_SUFFIXES: &[&str] = &["city", "province", "shi", "sheng", "municipality", "sar"];

/// Municipalities and SARs: provinces that are one city.
const MUNICIPALITIES: &[&str] = &["北京", "上海", "天津", "重庆", "香港", "澳门"];

/// `s` without its administrative suffix, and the suffix.
fn split_suffix(s: &str) -> (&str, Option<&'static str>) {
    SUFFIXES
        .iter()
        .find_map(|x| {
            s.strip_suffix(x)
                .filter(|r| r.chars().count() >= 2)
                .map(|r| (r, Some(*x)))
        })
        .unwrap_or((s, None))
}

/// One place name (a stem, a suffixed form or a pinyin form) as a place: `…市` is read as a
/// city first, `…省` and a bare province name as the province.
fn one(s: &str) -> Option<Place> {
    let t = &*TABLES;
    let s = s.trim();
    let (stem, suffix) = if s.chars().next().is_some_and(is_cjk) {
        split_suffix(s)
    } else {
        let words: Vec<&str> = s
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty() && !LATIN_SUFFIXES.contains(w))
            .collect();
        (*t.pinyin.get(words.concat().as_str())?, None)
    };
    let as_city = || {
        t.province_of
            .get_key_value(stem)
            .map(|(city, province)| Place {
                province,
                city: Some(city),
            })
    };
    let as_province = || {
        t.provinces.iter().find(|p| **p == stem).map(|p| Place {
            province: p,
            city: MUNICIPALITIES.contains(p).then_some(*p),
        })
    };
    if suffix == Some("市") {
        as_city().or_else(as_province)
    } else {
        as_province().or_else(as_city)
    }
}

/// A city, province or both (`广东省深圳市`, `Shenzhen, Guangdong`, `浙江 杭州`) as a place;
/// `None` when it is not a Chinese place this table knows, or names two that disagree.
pub fn parse_place(text: &str) -> Option<Place> {
    let text = to_half_width(text).to_lowercase();
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Some(p) = one(text) {
        return Some(p);
    }
    let parts = if text.chars().all(is_cjk) {
        cjk_parts(text)?
    } else {
        text.split([',', ' ', '/', '-', '、'])
            .filter(|w| !w.is_empty())
            .map(one)
            .collect::<Option<Vec<_>>>()?
    };
    combine(&parts)
}

/// CJK place names run together (`广东省深圳市`), each the longest form that reads as a place.
fn cjk_parts(mut s: &str) -> Option<Vec<Place>> {
    let mut out = vec![];
    while !s.is_empty() {
        let ends: Vec<usize> = s.char_indices().map(|(i, _)| i).skip(2).collect();
        let end = [s.len()]
            .into_iter()
            .chain(ends.into_iter().rev())
            .find(|&e| one(&s[..e]).is_some())?;
        out.push(one(&s[..end])?);
        s = &s[end..];
    }
    Some(out)
}

/// Places that name one location (a province and a city in it) merged; `None` when they
/// disagree or there are none.
fn combine(parts: &[Place]) -> Option<Place> {
    let mut out: Option<Place> = None;
    for p in parts {
        out = match out {
            None => Some(*p),
            Some(o) if o.province != p.province => return None,
            Some(o) => Some(Place {
                province: o.province,
                city: match (o.city, p.city) {
                    (Some(a), Some(b)) if a != b => return None,
                    (a, b) => a.or(b),
                },
            }),
        };
    }
    out
}

/// The place a company name carries: a bracketed place (`（杭州）`, `(Shenzhen)`), else a
/// leading one (`杭州市…`, `广东省深圳市…`, `Shenzhen Acme …`).
pub fn place_in_name(name: &str) -> Option<Place> {
    let half = to_half_width(name);
    let mut rest = half.as_str();
    while let Some(open) = rest.find(['(', '[', '【', '〔', '（']) {
        let after = &rest[open..];
        let opener = after.chars().next().unwrap_or('(');
        let after = &after[opener.len_utf8()..];
        let Some(close) = after.find([')', ']', '】', '〕', '）']) else {
            break;
        };
        if let Some(p) = parse_place(&after[..close]) {
            return Some(p);
        }
        rest = &after[close..];
    }
    let text = clean_words(&half);
    if text.chars().next().is_some_and(is_cjk) {
        // A trade name (字号) may not be a place name under China's enterprise-name rules, so
        // a leading place is the company's (杭州市…, 杭州…, 广东省深圳市…).
        let stripped = strip_place_prefixes(&text, 2);
        let lead = text[..text.len() - stripped.len()].trim_end();
        return (!lead.is_empty()).then(|| parse_place(lead)).flatten();
    }
    let mut words = text.split(' ');
    let first = words.next()?;
    (words.count() >= 2).then(|| one(first)).flatten()
}

/// The province of a Chinese postal code (six digits; the first two name the province).
pub fn place_of_postcode(code: &str) -> Option<Place> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let prefix: u8 = code[..2].parse().ok()?;
    POSTAL_PREFIXES
        .iter()
        .find(|(_, ps)| ps.contains(&prefix))
        .map(|(province, _)| Place {
            province,
            city: MUNICIPALITIES.contains(province).then_some(*province),
        })
}

/// The city of a Chinese landline in E.164 (`+8657188881234` → 杭州); `None` for a mobile
/// number (eleven digits from 13–19), another country or an area code this table lacks.
pub fn place_of_phone(e164: &str) -> Option<Place> {
    let national = e164.strip_prefix("+86")?;
    let mobile = national.len() == 11 && national.starts_with('1') && !national.starts_with("10");
    if mobile || national.len() < 9 {
        return None;
    }
    let city = AREA_CODES
        .iter()
        .find(|(code, _)| national.starts_with(code))
        .map(|(_, city)| *city)?;
    one(city)
}

/// True when `word` (lower-case) is the pinyin name of a province or major city.
pub(super) fn is_pinyin_place(word: &str) -> bool {
    TABLES.pinyin.contains_key(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(province: &'static str, city: Option<&'static str>) -> Option<Place> {
        Some(Place { province, city })
    }

    #[test]
    fn cities_provinces_and_pinyin_forms_are_one_place() {
        for (text, expected) in [
            ("深圳市", p("广东", Some("深圳"))),
            ("深圳", p("广东", Some("深圳"))),
            ("Shenzhen", p("广东", Some("深圳"))),
            ("SHENZHEN CITY", p("广东", Some("深圳"))),
            ("广东省", p("广东", None)),
            ("Guangdong", p("广东", None)),
            ("Guangdong Province", p("广东", None)),
            ("广东省深圳市", p("广东", Some("深圳"))),
            ("Shenzhen, Guangdong", p("广东", Some("深圳"))),
            ("浙江 杭州", p("浙江", Some("杭州"))),
            ("Xi'an", p("陕西", Some("西安"))),
            ("上海市", p("上海", Some("上海"))),
            ("广西壮族自治区", p("广西", None)),
            ("吉林省", p("吉林", None)),
            ("Hangzhou, Guangdong", None),
            ("Berlin", None),
            ("华南", None),
            ("", None),
        ] {
            assert_eq!(parse_place(text), expected, "{text:?}");
        }
    }

    #[test]
    fn postal_codes_and_landlines_say_where() {
        for (code, expected) in [
            ("518057", p("广东", None)),
            ("310012", p("浙江", None)),
            ("100020", p("北京", Some("北京"))),
            ("200120", p("上海", Some("上海"))),
            ("830000", p("新疆", None)),
            ("990000", None),
            ("51805", None),
            ("ab1234", None),
        ] {
            assert_eq!(place_of_postcode(code), expected, "{code}");
        }
        for (phone, expected) in [
            ("+8675588881234", p("广东", Some("深圳"))),
            ("+862088881234", p("广东", Some("广州"))),
            ("+861088881234", p("北京", Some("北京"))),
            ("+8657188881234", p("浙江", Some("杭州"))),
            ("+8613812345678", None),
            ("+4930123456", None),
            ("+8699988881234", None),
        ] {
            assert_eq!(place_of_phone(phone), expected, "{phone}");
        }
    }

    #[test]
    fn names_carry_their_place() {
        for (name, expected) in [
            ("长城建材(杭州)有限公司", p("浙江", Some("杭州"))),
            ("长城建材（杭州）有限公司", p("浙江", Some("杭州"))),
            ("杭州市长城建材有限公司", p("浙江", Some("杭州"))),
            ("杭州长城建材", p("浙江", Some("杭州"))),
            ("广东省深圳市飞跃科技有限公司", p("广东", Some("深圳"))),
            ("Acme Trading (Shenzhen) Co., Ltd.", p("广东", Some("深圳"))),
            ("Shenzhen Acme Trading Co., Ltd.", p("广东", Some("深圳"))),
            ("Siemens (China) Co., Ltd.", None),
            ("长城建材有限公司", None),
            ("Shenzhen Ltd", None),
        ] {
            assert_eq!(place_in_name(name), expected, "{name:?}");
        }
    }
}
