//! Chinese place names that open company names ("深圳市飞跃科技有限公司") and addresses.
//!
//! Each stem is matched with and without its administrative suffix (省, 市, 自治区), longest
//! form first, so "广东省" wins over "广东".

use std::sync::LazyLock;

/// Provinces, written without 省.
const PROVINCES: &[&str] = &[
    "河北",
    "山西",
    "辽宁",
    "吉林",
    "黑龙江",
    "江苏",
    "浙江",
    "安徽",
    "福建",
    "江西",
    "山东",
    "河南",
    "湖北",
    "湖南",
    "广东",
    "海南",
    "四川",
    "贵州",
    "云南",
    "陕西",
    "甘肃",
    "青海",
    "台湾",
];

/// Autonomous regions: the stem and its full official name.
const REGIONS: &[(&str, &str)] = &[
    ("内蒙古", "内蒙古自治区"),
    ("广西", "广西壮族自治区"),
    ("西藏", "西藏自治区"),
    ("宁夏", "宁夏回族自治区"),
    ("新疆", "新疆维吾尔自治区"),
    ("香港", "香港特别行政区"),
    ("澳门", "澳门特别行政区"),
];

/// Municipalities and the major prefecture-level cities, written without 市.
const CITIES: &[&str] = &[
    // Municipalities.
    "北京",
    "上海",
    "天津",
    "重庆",
    // Provincial capitals.
    "石家庄",
    "太原",
    "呼和浩特",
    "沈阳",
    "长春",
    "哈尔滨",
    "南京",
    "杭州",
    "合肥",
    "福州",
    "南昌",
    "济南",
    "郑州",
    "武汉",
    "长沙",
    "广州",
    "南宁",
    "海口",
    "成都",
    "贵阳",
    "昆明",
    "拉萨",
    "西安",
    "兰州",
    "西宁",
    "银川",
    "乌鲁木齐",
    // Other major prefecture-level cities.
    "深圳",
    "东莞",
    "佛山",
    "珠海",
    "惠州",
    "汕头",
    "江门",
    "湛江",
    "肇庆",
    "苏州",
    "无锡",
    "常州",
    "南通",
    "徐州",
    "扬州",
    "镇江",
    "泰州",
    "盐城",
    "连云港",
    "淮安",
    "宁波",
    "温州",
    "嘉兴",
    "绍兴",
    "金华",
    "台州",
    "湖州",
    "舟山",
    "厦门",
    "泉州",
    "漳州",
    "莆田",
    "青岛",
    "烟台",
    "潍坊",
    "淄博",
    "临沂",
    "济宁",
    "威海",
    "东营",
    "大连",
    "鞍山",
    "唐山",
    "保定",
    "廊坊",
    "秦皇岛",
    "邯郸",
    "包头",
    "鄂尔多斯",
    "洛阳",
    "宜昌",
    "襄阳",
    "株洲",
    "湘潭",
    "岳阳",
    "常德",
    "芜湖",
    "柳州",
    "桂林",
    "三亚",
    "绵阳",
    "宜宾",
    "遵义",
    "赣州",
    "九江",
    "大庆",
    "吉林",
];

/// Forms only matched with their suffix: the bare stem is a common word or name part
/// (中山 is Sun Yat-sen in 中山大学, 中山路).
const SUFFIXED_ONLY: &[&str] = &["中山市"];

/// Every form, longest first (ties in a fixed order), without duplicates.
static FORMS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut forms: Vec<String> = Vec::new();
    for p in PROVINCES {
        forms.extend([format!("{p}省"), (*p).to_string()]);
    }
    for (stem, full) in REGIONS {
        forms.extend([
            (*full).to_string(),
            format!("{stem}自治区"),
            (*stem).to_string(),
        ]);
    }
    for c in CITIES {
        forms.extend([format!("{c}市"), (*c).to_string()]);
    }
    forms.extend(SUFFIXED_ONLY.iter().map(|s| (*s).to_string()));
    forms.sort_by(|a, b| b.chars().count().cmp(&a.chars().count()).then(a.cmp(b)));
    forms.dedup();
    forms
});

/// `s` without its leading place names (repeatedly: "广东省深圳市"), each removed only when at
/// least `min_rest` non-space characters remain after it.
pub(super) fn strip_place_prefixes(s: &str, min_rest: usize) -> &str {
    let mut rest = s.trim_start();
    // The longest form that matches is the place name; a shorter one is never tried
    // instead, so "深圳市飞" does not lose "深圳" and keep "市飞".
    while let Some(next) = FORMS
        .iter()
        .find_map(|f| rest.strip_prefix(f.as_str()))
        .map(str::trim_start)
        .filter(|r| r.chars().filter(|c| !c.is_whitespace()).count() >= min_rest)
    {
        rest = next;
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn place_prefixes_are_stripped_longest_first_and_repeatedly() {
        for (input, expected) in [
            ("深圳市飞跃科技", "飞跃科技"),
            ("广东省深圳市飞跃", "飞跃"),
            ("广西壮族自治区南宁市飞跃", "飞跃"),
            ("内蒙古自治区飞跃", "飞跃"),
            ("上海飞跃", "飞跃"),
            ("深圳市飞", "深圳市飞"),
            ("深圳市", "深圳市"),
            ("中山大学", "中山大学"),
            ("中山市飞跃", "飞跃"),
            ("飞跃深圳", "飞跃深圳"),
        ] {
            assert_eq!(strip_place_prefixes(input, 2), expected, "{input}");
        }
    }
}
