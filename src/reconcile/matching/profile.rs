//! Profiles: the normalised values of a customer that the matcher compares and blocks on.
//!
//! A person customer (given or family name present) is compared by its name parts; any other
//! by its normalised legal name (`org_name`), so that a full name and its parts never count
//! twice. `name_tokens` holds the legal name's tokens for token-set comparison.

use crate::model::Customer;
use crate::reconcile::{normalize, taxid};

/// A field of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// Normalised legal name (organisations).
    OrgName,
    /// Tokens of the legal name, space-separated, sorted.
    NameTokens,
    /// Given name (persons).
    GivenName,
    /// Family name (persons).
    FamilyName,
    /// `given` U+001F `family` (persons; either may be empty), for the person-name comparator.
    PersonName,
    /// Given and family name tokens, sorted (swapped names meet).
    PersonTokens,
    /// `V:<canonical>` for a valid tax ID, `I:<text>` for another.
    TaxId,
    /// `YYYY-MM-DD`.
    BirthDate,
    /// Personal identifier, alphanumerics upper-case.
    PersonalId,
    /// Address tokens, space-separated.
    Address,
    /// City, lower-case.
    City,
    /// Postal code.
    PostalCode,
    /// Region, lower-case.
    Region,
    /// ISO country code.
    Country,
    /// Phone in E.164 (numbers that cannot be read are left out).
    Phone,
    /// E-mail, lower-case.
    Email,
    /// The e-mail's domain.
    EmailDomain,
    /// Company domains of the e-mail and the website (registrable, free mail left out),
    /// space-separated.
    Domains,
}

impl Field {
    /// Every field, in index order.
    pub const ALL: [Field; 18] = [
        Field::OrgName,
        Field::NameTokens,
        Field::GivenName,
        Field::FamilyName,
        Field::PersonName,
        Field::PersonTokens,
        Field::TaxId,
        Field::BirthDate,
        Field::PersonalId,
        Field::Address,
        Field::City,
        Field::PostalCode,
        Field::Region,
        Field::Country,
        Field::Phone,
        Field::Email,
        Field::EmailDomain,
        Field::Domains,
    ];

    /// Its name in configuration.
    pub fn name(self) -> &'static str {
        match self {
            Field::OrgName => "org_name",
            Field::NameTokens => "name_tokens",
            Field::GivenName => "given_name",
            Field::FamilyName => "family_name",
            Field::PersonName => "person_name",
            Field::PersonTokens => "person_tokens",
            Field::TaxId => "tax_id",
            Field::BirthDate => "birth_date",
            Field::PersonalId => "personal_id",
            Field::Address => "address",
            Field::City => "city",
            Field::PostalCode => "postal_code",
            Field::Region => "region",
            Field::Country => "country",
            Field::Phone => "phone",
            Field::Email => "email",
            Field::EmailDomain => "email_domain",
            Field::Domains => "domains",
        }
    }

    /// The field of a configuration name.
    pub fn parse(name: &str) -> Result<Field, String> {
        Field::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| {
                format!(
                    "unknown match field `{name}` (one of {})",
                    Field::ALL.map(Field::name).join(", ")
                )
            })
    }
}

/// How profiles are built.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileOptions {
    /// Country assumed for phone numbers without a country prefix (ISO alpha-2).
    pub default_country: Option<String>,
    /// Remove `+tag` from e-mail local parts.
    pub strip_plus_tags: bool,
}

/// The normalised values of one record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    values: [Option<Box<str>>; Field::ALL.len()],
}

impl Profile {
    /// The value of `field`, if present.
    pub fn get(&self, field: Field) -> Option<&str> {
        self.values[field as usize].as_deref()
    }

    /// Sets `field` (an empty value counts as missing).
    pub fn set(&mut self, field: Field, value: Option<String>) {
        self.values[field as usize] = value.filter(|v| !v.is_empty()).map(String::into_boxed_str);
    }

    /// The profile of a customer.
    pub fn of(c: &Customer, options: &ProfileOptions) -> Profile {
        let mut p = Profile::default();
        let text = |v: &Option<String>| v.as_deref().map(simple).filter(|s| !s.is_empty());
        let person = c.given_name.is_some() || c.family_name.is_some();
        if person {
            let (given, family) = (text(&c.given_name), text(&c.family_name));
            p.set(
                Field::PersonName,
                Some(format!(
                    "{}\u{1f}{}",
                    given.as_deref().unwrap_or(""),
                    family.as_deref().unwrap_or("")
                )),
            );
            let mut tokens: Vec<&str> = given
                .iter()
                .chain(family.iter())
                .flat_map(|s| s.split_whitespace())
                .collect();
            tokens.sort_unstable();
            p.set(Field::PersonTokens, Some(tokens.join(" ")));
            p.set(Field::GivenName, given);
            p.set(Field::FamilyName, family);
        } else {
            p.set(Field::OrgName, Some(normalize::normalize_name(&c.name)));
            p.set(
                Field::NameTokens,
                Some(normalize::name_tokens(&c.name).join(" ")),
            );
        }
        p.set(
            Field::TaxId,
            c.tax_id
                .as_deref()
                .and_then(|raw| match taxid::valid(Some(raw)) {
                    Some(t) => Some(format!("V:{}", t.value)),
                    None => {
                        let n = taxid::normalize_tax_id(raw);
                        (!n.is_empty()).then(|| format!("I:{n}"))
                    }
                }),
        );
        p.set(Field::BirthDate, c.birth_date.map(|d| d.to_string()));
        let country = c
            .country
            .as_deref()
            .and_then(normalize::normalize_country)
            // A territory that names a country ("China") says where the customer is.
            .or_else(|| c.region.as_deref().and_then(country_named));
        p.set(
            Field::PersonalId,
            c.personal_id.as_deref().map(|s| {
                normalize::to_half_width(s)
                    .chars()
                    .filter(|c| c.is_alphanumeric())
                    .collect::<String>()
                    .to_uppercase()
            }),
        );
        p.set(
            Field::Address,
            c.address
                .as_deref()
                .map(|a| normalize::address_tokens(a).join(" ")),
        );
        p.set(
            Field::Phone,
            c.phone.as_deref().and_then(|raw| {
                normalize::normalize_phone(
                    raw,
                    country.as_deref().or(options.default_country.as_deref()),
                )
            }),
        );
        let place = Located::of(
            c,
            person,
            &p,
            country.as_deref().or(options.default_country.as_deref()),
        );
        p.set(Field::City, place.city.or_else(|| text(&c.city)));
        p.set(
            Field::PostalCode,
            c.postal_code.as_deref().and_then(|pc| {
                normalize::normalize_postcode_for(pc, country.as_deref())
                    .or_else(|| normalize::normalize_postcode(pc))
            }),
        );
        p.set(Field::Region, place.region);
        p.set(Field::Country, country);
        let email = c
            .email
            .as_deref()
            .and_then(|e| normalize::normalize_email(e, options.strip_plus_tags));
        p.set(
            Field::EmailDomain,
            email
                .as_deref()
                .and_then(normalize::email_domain)
                .map(String::from),
        );
        p.set(
            Field::Domains,
            normalize::corporate_domains(email.as_deref(), c.website.as_deref()),
        );
        p.set(Field::Email, email);
        p
    }
}

/// Where a record says the customer is, for the `city` and `region` fields: a Chinese city
/// or province is written as its stem (`深圳`, `广东`) whatever its form (`深圳市`, `Shenzhen`);
/// a city's province fills a missing region (深圳 ⊂ 广东); a company whose record has no city
/// takes the place its name carries (`长城建材（杭州）有限公司`); a region that names a country
/// (an ERPNext territory "China") is no region. Other text is kept as written.
struct Located {
    city: Option<String>,
    region: Option<String>,
}

impl Located {
    /// `p` holds the record's phone already; `country` is its country (or the default).
    fn of(c: &Customer, person: bool, p: &Profile, country: Option<&str>) -> Located {
        let city = present(&c.city);
        let region = present(&c.region);
        let city_place = city.and_then(normalize::parse_place);
        let region_place = region.and_then(normalize::parse_place);
        let name_place = (!person && city.is_none())
            .then(|| normalize::place_in_name(&c.name))
            .flatten();
        // A Chinese landline's area code (its city only when the record names none), and a
        // Chinese postal code's province.
        let phone_place = p.get(Field::Phone).and_then(normalize::place_of_phone);
        let chinese = match country {
            Some(cc) => cc == "CN",
            None => {
                p.get(Field::Phone).is_some_and(|t| t.starts_with("+86"))
                    || c.name
                        .chars()
                        .any(|ch| ('\u{4E00}'..='\u{9FFF}').contains(&ch))
            }
        };
        let postal_place = present(&c.postal_code)
            .filter(|_| chinese)
            .and_then(normalize::place_of_postcode);
        let known = city_place
            .or(name_place)
            .or(phone_place.filter(|_| city.is_none()));
        let city_out = known
            .and_then(|p| p.city)
            .or_else(|| region_place.and_then(|p| p.city).filter(|_| city.is_none()))
            .map(String::from);
        let region_out = match (region_place, region) {
            (Some(p), _) => Some(p.province.to_string()),
            (None, Some(r)) if country_named(r).is_some() => None,
            (None, Some(r)) => Some(simple(r)),
            (None, None) => None,
        }
        .or_else(|| {
            known
                .or(phone_place)
                .or(postal_place)
                .map(|p| p.province.to_string())
        });
        Located {
            city: city_out,
            region: region_out,
        }
    }
}

/// The country a region field names ("China", "CHN"), not two letters that only look like a
/// code (the Australian state "SA").
fn country_named(text: &str) -> Option<String> {
    (text.trim().chars().count() > 2)
        .then(|| normalize::normalize_country(text))
        .flatten()
}

/// The trimmed text of a field, if any.
fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Lower-case, half-width, single-spaced.
fn simple(s: &str) -> String {
    normalize::to_half_width(s)
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The profiles of many customers, built on every core.
pub fn profiles_of<'a, T: Sync>(
    items: &'a [T],
    customer: impl Fn(&'a T) -> &'a Customer + Sync,
    options: &ProfileOptions,
) -> Vec<Profile> {
    super::on_every_core(items, 2_000, |chunk| {
        chunk
            .iter()
            .map(|item| Profile::of(customer(item), options))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(fields: serde_json::Value) -> Customer {
        let mut v = serde_json::json!({"source_key": "k", "name": "x"});
        v.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        serde_json::from_value(v).unwrap()
    }

    /// Where a record is, from each shape real systems write it in.
    #[test]
    fn places_come_from_every_field_that_says_where() {
        let options = ProfileOptions::default();
        for (fields, city, region, country) in [
            // The city in a name (bracketed, leading with 市, English), with no city field.
            (
                serde_json::json!({"name": "长城建材(杭州)有限公司"}),
                Some("杭州"),
                Some("浙江"),
                None,
            ),
            (
                serde_json::json!({"name": "杭州市长城建材有限公司"}),
                Some("杭州"),
                Some("浙江"),
                None,
            ),
            (
                serde_json::json!({"name": "Acme Trading (Shenzhen) Co., Ltd."}),
                Some("深圳"),
                Some("广东"),
                None,
            ),
            // A city field wins over the name; its province fills the region.
            (
                serde_json::json!({"name": "长城建材(杭州)有限公司", "city": "宁波市"}),
                Some("宁波"),
                Some("浙江"),
                None,
            ),
            (
                serde_json::json!({"city": "Shenzhen", "region": "Guangdong Province"}),
                Some("深圳"),
                Some("广东"),
                None,
            ),
            (
                serde_json::json!({"region": "广东省"}),
                None,
                Some("广东"),
                None,
            ),
            // An ERPNext territory: a province in pinyin, or the country.
            (
                serde_json::json!({"region": "Zhejiang"}),
                None,
                Some("浙江"),
                None,
            ),
            (
                serde_json::json!({"region": "China"}),
                None,
                None,
                Some("CN"),
            ),
            // A landline's area code, a Chinese postal code's province.
            (
                serde_json::json!({"phone": "0571-87654321", "country": "CN"}),
                Some("杭州"),
                Some("浙江"),
                Some("CN"),
            ),
            (
                serde_json::json!({"postal_code": "518057", "country": "CN"}),
                None,
                Some("广东"),
                Some("CN"),
            ),
            (
                serde_json::json!({"phone": "+86 138 1234 5678"}),
                None,
                None,
                None,
            ),
            // A city the table does not know stays as written, whatever the phone says.
            (
                serde_json::json!({"city": "南山区", "phone": "0755-26551234", "country": "CN"}),
                Some("南山区"),
                Some("广东"),
                Some("CN"),
            ),
            // Elsewhere, text stays as written; two letters in a region are not a country.
            (
                serde_json::json!({"city": "Sydney", "region": "SA", "country": "AU", "postal_code": "518057"}),
                Some("sydney"),
                Some("sa"),
                Some("AU"),
            ),
        ] {
            let p = Profile::of(&customer(fields.clone()), &options);
            assert_eq!(
                (
                    p.get(Field::City),
                    p.get(Field::Region),
                    p.get(Field::Country)
                ),
                (city, region, country),
                "{fields}"
            );
        }
    }

    /// A landline compares equal however each preset writes it (with the shipped
    /// `default_phone_country = "CN"` for records that name no country).
    #[test]
    fn landlines_meet_across_the_presets_shapes() {
        let options = ProfileOptions {
            default_country: Some("CN".into()),
            ..Default::default()
        };
        let shapes = [
            serde_json::json!({"phone": "+86 755 2655 1234", "country": "CN"}),
            serde_json::json!({"phone": "0755-26551234", "country": "CN"}),
            serde_json::json!({"phone": "0755 2655 1234"}),
            serde_json::json!({"phone": "(0755) 26551234", "region": "China"}),
            serde_json::json!({"phone": "+86-755-26551234"}),
            serde_json::json!({"phone": "8675526551234", "country": "CN"}),
        ];
        for fields in shapes {
            let p = Profile::of(&customer(fields.clone()), &options);
            assert_eq!(p.get(Field::Phone), Some("+8675526551234"), "{fields}");
        }
    }

    #[test]
    fn company_domains_come_from_mail_and_website() {
        let options = ProfileOptions::default();
        let p = Profile::of(
            &customer(
                serde_json::json!({"email": "AP@Mail.Acme.com.cn", "website": "https://www.acme-group.com/zh"}),
            ),
            &options,
        );
        assert_eq!(p.get(Field::Domains), Some("acme-group.com acme.com.cn"));
        let p = Profile::of(
            &customer(serde_json::json!({"email": "zhang@qq.com"})),
            &options,
        );
        assert_eq!(p.get(Field::Domains), None);
        assert_eq!(p.get(Field::Email), Some("zhang@qq.com"));
    }
}
