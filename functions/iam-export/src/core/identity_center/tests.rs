use super::*;

const ADMIN_ARN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
const READ_ONLY_ARN: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
const ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Sid":"All","Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const READ: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","ec2:Describe*"],"Resource":"*"}]}"#;
const PASS_AND_LAMBDA: &str = r#"{"Statement":[{"Sid":"Deploy","Effect":"Allow","Action":["iam:PassRole","lambda:CreateFunction","lambda:InvokeFunction"],"Resource":"*"}]}"#;
const DENY_ALL_BUT_S3: &str = r#"{"Statement":[{"Sid":"OnlyS3","Effect":"Deny","NotAction":"s3:*","Resource":"*"}]}"#;
const ONLY_S3: &str = r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;

fn managed(arn: &str) -> PolicyRef {
    PolicyRef::Managed { arn: arn.to_owned(), name: arn.rsplit('/').next().unwrap_or(arn).to_owned() }
}

fn customer(name: &str) -> PolicyRef {
    PolicyRef::CustomerManaged { path: "/".to_owned(), name: name.to_owned() }
}

fn documents() -> BTreeMap<String, (String, String)> {
    [(ADMIN_ARN, "AdministratorAccess", ALL), (READ_ONLY_ARN, "ReadOnlyAccess", READ)]
        .into_iter()
        .map(|(arn, name, document)| (arn.to_owned(), (name.to_owned(), document.to_owned())))
        .collect()
}

fn account_with(name: &str, document: &str) -> Authorization {
    let mut authorization = Authorization::default();
    authorization
        .managed
        .insert(format!("arn:aws:iam::111111111111:policy/{name}"), (name.to_owned(), document.to_owned()));
    authorization
}

#[test]
fn a_permission_set_is_evaluated_as_the_role_it_provisions() {
    let deploy_account = account_with("Deploy", PASS_AND_LAMBDA);
    let empty_account = Authorization::default();
    let set = |policies: Vec<PolicyRef>, inline: Option<&str>, boundary: Option<PolicyRef>| PermissionSet {
        name: "Set".to_owned(),
        policies,
        inline: inline.map(str::to_owned),
        boundary,
        ..PermissionSet::default()
    };
    let in_account = Some(("111111111111", Some(&deploy_account)));
    type Case<'a> = (&'a str, PermissionSet, Option<(&'a str, Option<&'a Authorization>)>, Admin, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            "AWS managed AdministratorAccess",
            set(vec![managed(ADMIN_ARN)], None, None),
            in_account,
            Admin::Yes,
            "* on * via AdministratorAccess (All)",
        ),
        ("read only", set(vec![managed(READ_ONLY_ARN)], None, None), in_account, Admin::No, ""),
        (
            "an inline Deny of all but S3 takes AdministratorAccess away",
            set(vec![managed(ADMIN_ARN)], Some(DENY_ALL_BUT_S3), None),
            in_account,
            Admin::No,
            "",
        ),
        (
            "a boundary that allows only S3 caps AdministratorAccess",
            set(
                vec![managed(ADMIN_ARN)],
                None,
                Some(PolicyRef::Managed {
                    arn: "arn:aws:iam::aws:policy/AmazonS3FullAccess".to_owned(),
                    name: "AmazonS3FullAccess".to_owned(),
                }),
            ),
            in_account,
            Admin::Yes,
            "not evaluated: boundary AmazonS3FullAccess (its document could not be read)",
        ),
        (
            "a customer-managed policy read from the account it names",
            set(vec![customer("Deploy")], None, None),
            in_account,
            Admin::Possible,
            "iam:PassRole with lambda:CreateFunction and lambda:InvokeFunction via /Deploy (Deploy)",
        ),
        (
            "a customer-managed policy the account does not have",
            set(vec![customer("Deploy")], None, None),
            Some(("111111111111", Some(&empty_account))),
            Admin::No,
            "not evaluated: /Deploy (not in account 111111111111)",
        ),
        (
            "a customer-managed policy of an account the run did not read",
            set(vec![customer("Deploy")], None, None),
            Some(("222222222222", None)),
            Admin::No,
            "not evaluated: /Deploy (account 222222222222 not read)",
        ),
    ];
    for (case, set, account, admin, via) in cases {
        let finding = set.evaluate(&documents(), "aws", account);
        assert_eq!(finding.admin, admin, "{case}: {finding:?}");
        if !via.is_empty() {
            assert!(finding.via.iter().any(|v| v.contains(via)), "{case}: {:?} lacks {via}", finding.via);
        }
    }

    // A boundary read as a document caps: AdministratorAccess under an S3-only boundary is no admin.
    let mut capped_docs = documents();
    capped_docs.insert("arn:aws:iam::aws:policy/S3Only".to_owned(), ("S3Only".to_owned(), ONLY_S3.to_owned()));
    let capped = set(vec![managed(ADMIN_ARN)], None, Some(managed("arn:aws:iam::aws:policy/S3Only")));
    assert_eq!(capped.evaluate(&capped_docs, "aws", in_account).admin, Admin::No);
}

fn center() -> IdentityCenter {
    let user = |id: &str, name: &str, status: &str| IcUser {
        id: id.to_owned(),
        user_name: name.to_owned(),
        display_name: name.to_uppercase(),
        status: status.to_owned(),
        ..IcUser::default()
    };
    let set = |arn: &str, name: &str, policies: Vec<PolicyRef>| PermissionSet {
        arn: arn.to_owned(),
        name: name.to_owned(),
        session_duration: "PT8H".to_owned(),
        policies,
        ..PermissionSet::default()
    };
    let assign = |account: &str, set: &str, principal: Principal| Assignment {
        account_id: account.to_owned(),
        permission_set_arn: set.to_owned(),
        principal,
    };
    IdentityCenter {
        instance_arn: "arn:aws:sso:::instance/ssoins-0123456789abcdef".to_owned(),
        users: vec![
            user("u-ana", "ana", "ENABLED"),
            user("u-bo", "bo", "DISABLED"),
            user("u-cy", "cy", ""),
            user("u-di", "di", "ENABLED"),
        ],
        groups: vec![IcGroup {
            id: "g-ops".to_owned(),
            name: "ops".to_owned(),
            members: vec!["u-ana".into(), "u-bo".into()],
        }],
        permission_sets: vec![
            set("ps-admin", "Admin", vec![managed(ADMIN_ARN)]),
            set("ps-read", "ReadOnly", vec![managed(READ_ONLY_ARN)]),
            set("ps-unused", "Unused", vec![managed(READ_ONLY_ARN)]),
            set("ps-empty", "Empty", Vec::new()),
        ],
        assignments: vec![
            assign("111111111111", "ps-admin", Principal::Group("g-ops".into())),
            assign("111111111111", "ps-read", Principal::User("u-cy".into())),
            assign("222222222222", "ps-read", Principal::User("u-ana".into())),
            assign("222222222222", "ps-read", Principal::Group("g-ops".into())),
            assign("222222222222", "ps-empty", Principal::User("u-gone".into())),
        ],
        unreadable: vec![("ps-read".into(), "333333333333".into()), ("ps-admin".into(), "333333333333".into())],
        managed_documents: documents(),
    }
}

#[test]
fn access_rows_name_each_user_account_set_and_the_way_it_was_assigned() {
    let prod = Authorization::default();
    let accounts: ReadAccounts<'_> = [("111111111111".to_owned(), ("prod".to_owned(), &prod))].into_iter().collect();
    let export = build_identity_center(&center(), &accounts);
    let rows: Vec<(&str, &str, &str, &str, &str, Admin)> = export
        .access
        .iter()
        .map(|r| {
            (
                r.user_name.as_str(),
                r.account_id.as_str(),
                r.account_name.as_str(),
                r.permission_set.as_str(),
                r.assigned_via.as_str(),
                r.admin.admin,
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("", "222222222222", "", "Empty", "direct", Admin::No),
            ("ana", "111111111111", "prod", "Admin", "group ops", Admin::Yes),
            ("ana", "222222222222", "", "ReadOnly", "direct", Admin::No),
            ("ana", "222222222222", "", "ReadOnly", "group ops", Admin::No),
            ("bo", "111111111111", "prod", "Admin", "group ops", Admin::Yes),
            ("bo", "222222222222", "", "ReadOnly", "group ops", Admin::No),
            ("cy", "111111111111", "prod", "ReadOnly", "direct", Admin::No),
        ]
    );
    assert_eq!(export.access[0].user_id, "u-gone", "an assignment to a deleted user keeps its id");
}

#[test]
fn users_and_permission_sets_get_one_verdict_each() {
    let export = build_identity_center(&center(), &ReadAccounts::new());
    let users: Vec<(&str, Admin, Verdict, &str)> = export
        .users
        .iter()
        .map(|r| (r.user.user_name.as_str(), r.admin, r.verdict, r.verdict_reason.as_str()))
        .collect();
    assert_eq!(
        users,
        vec![
            ("ana", Admin::Yes, Verdict::Keep, "access to 2 accounts through 2 permission sets"),
            ("bo", Admin::Yes, Verdict::Review, "disabled, yet still assigned 2 accounts through 2 permission sets"),
            ("cy", Admin::No, Verdict::Keep, "access to 1 account through 1 permission set"),
            ("di", Admin::No, Verdict::Remove, "no access: no permission set assigned, directly or through a group"),
        ]
    );
    assert_eq!(export.users[0].groups, vec!["ops".to_owned()]);
    let sets: Vec<(&str, usize, usize, Admin, Verdict, &str)> = export
        .permission_sets
        .iter()
        .map(|r| {
            (
                r.permission_set.name.as_str(),
                r.accounts,
                r.principals,
                r.admin.admin,
                r.verdict,
                r.verdict_reason.as_str(),
            )
        })
        .collect();
    assert_eq!(
        sets,
        vec![
            ("Admin", 1, 1, Admin::Yes, Verdict::Keep, "assigned to 1 user or group in 1 account"),
            (
                "Empty",
                1,
                1,
                Admin::No,
                Verdict::Remove,
                "no permissions: no managed, customer-managed or inline policy"
            ),
            ("ReadOnly", 2, 3, Admin::No, Verdict::Keep, "assigned to 3 users or groups in 2 accounts"),
            ("Unused", 0, 0, Admin::No, Verdict::Review, "assigned to nobody"),
        ]
    );
    let findings = export.findings();
    assert_eq!((findings.admins, findings.to_remove, findings.to_review), (2, 2, 2));
    assert_eq!(export.accounts_unreadable, ["333333333333"], "each account refused, once");
}

#[test]
fn the_cheaper_way_to_read_assignments_is_chosen() {
    assert_eq!(AssignmentReading::cheaper(2000, 540), AssignmentReading::ByPrincipal);
    assert_eq!(AssignmentReading::cheaper(30, 540), AssignmentReading::ByAccount);
    assert_eq!(AssignmentReading::cheaper(10, 10), AssignmentReading::ByAccount);
    assert_eq!(partition("arn:aws-cn:sso:::instance/ssoins-1"), "aws-cn");
}
