//! A component that exports `stance:plugin/policy-plugin@0.2.0`: a contract
//! version this host does not speak. Loading it must fail and name both versions.

wit_bindgen::generate!({
    inline: r#"
        package stance:plugin@0.2.0;

        interface policy-plugin {
            describe: func() -> string;
        }

        world policy {
            export policy-plugin;
        }
    "#,
});

struct Future;

impl exports::stance::plugin::policy_plugin::Guest for Future {
    fn describe() -> String {
        "from the future".to_string()
    }
}

export!(Future);
