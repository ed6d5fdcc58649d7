use super::*;

fn env(pairs: &[(&str, &str)]) -> Env {
    Env::from_pairs(pairs.iter().copied())
}

#[test]
fn required_names_the_variable_when_missing_or_empty() {
    for pairs in [&[][..], &[("BUCKET", "")][..], &[("BUCKET", "  ")][..]] {
        let err = env(pairs).required("BUCKET", "a bucket name").expect_err("invalid");
        assert_eq!(err.to_string(), "missing setting BUCKET: set it to a bucket name");
    }
    assert_eq!(env(&[("BUCKET", " b ")]).required("BUCKET", "x"), Ok("b".to_owned()));
}

#[test]
fn bool_or_accepts_common_spellings_and_rejects_others() {
    let check = |value: &str, expected: Option<bool>| {
        let got = env(&[("FLAG", value)]).bool_or("FLAG", false).ok();
        assert_eq!(got, expected, "FLAG={value:?}");
    };
    check("true", Some(true));
    check("TRUE", Some(true));
    check("1", Some(true));
    check("yes", Some(true));
    check("false", Some(false));
    check("0", Some(false));
    check("No", Some(false));
    check("", Some(false));
    check("maybe", None);
    let err = env(&[("FLAG", "maybe")]).bool_or("FLAG", false).expect_err("invalid");
    assert_eq!(err.to_string(), r#"invalid setting FLAG="maybe": expected true or false"#);
}

#[test]
fn parse_or_uses_the_default_and_explains_a_bad_value() {
    assert_eq!(env(&[]).parse_or("N", 10u32, "a whole number"), Ok(10));
    assert_eq!(env(&[("N", "25")]).parse_or("N", 10u32, "a whole number"), Ok(25));
    let err = env(&[("N", "-3")]).parse_or("N", 10u32, "a whole number").expect_err("invalid");
    assert!(err.to_string().starts_with(r#"invalid setting N="-3": expected a whole number ("#), "{err}");
}

#[test]
fn account_id_is_twelve_digits_or_unset() {
    assert_eq!(env(&[]).account_id("OWNER"), Ok(None));
    assert_eq!(env(&[("OWNER", " 123456789012 ")]).account_id("OWNER"), Ok(Some("123456789012".to_owned())));
    for bad in ["12345678901", "1234567890123", "arn:aws:iam::123456789012:root", "my-account"] {
        let err = env(&[("OWNER", bad)]).account_id("OWNER").expect_err(bad);
        assert_eq!(
            err.to_string(),
            format!("invalid setting OWNER={bad:?}: expected an AWS account id (12 digits), or nothing")
        );
    }
}
