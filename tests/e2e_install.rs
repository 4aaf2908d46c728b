//! `install.sh --service` into a scratch root: the binary, a systemd unit that systemd itself accepts,
//! and a settings file that a second install keeps.

use std::path::Path;
use std::process::Command;

fn install(root: &Path) -> std::process::Output {
    Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh"))
        .args(["--service", "--root"])
        .arg(root)
        .args(["--binary", env!("CARGO_BIN_EXE_otelbox")])
        .output()
        .expect("run install.sh")
}

#[test]
fn service_install_writes_a_valid_unit_and_keeps_settings() {
    let root = tempfile::tempdir().unwrap();
    let out = install(root.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let binary = root.path().join("usr/local/bin/otelbox");
    assert!(binary.exists(), "binary installed under the root's /usr/local/bin");
    // Installed stripped, its symbols beside it where gdb and perf look (the binary's debug link).
    let symbols = root.path().join("usr/local/bin/.debug/otelbox.debug");
    let (installed, built) = (
        std::fs::metadata(&binary).unwrap().len(),
        std::fs::metadata(env!("CARGO_BIN_EXE_otelbox")).unwrap().len(),
    );
    assert!(
        symbols.exists() && installed < built / 2,
        "stripped: {installed} of {built} bytes; symbols at {}",
        symbols.display()
    );
    let unit = std::fs::read_to_string(root.path().join("etc/systemd/system/otelbox.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/usr/local/bin/otelbox up --config /etc/otelbox/config.yaml --data-dir /var/lib/otelbox $OTELBOX_ARGS"),
        "{unit}"
    );
    for setting in [
        "User=otelbox",
        "EnvironmentFile=-/etc/otelbox/otelbox.env",
        "StateDirectory=otelbox",
        "NoNewPrivileges=yes",
        "Restart=on-failure",
        "StartLimitBurst=",
        "RestartPreventExitStatus=2",
    ] {
        assert!(unit.contains(setting), "unit lacks {setting}");
    }
    let config = root.path().join("etc/otelbox/config.yaml");
    let validate = Command::new(&binary).args(["config", "validate"]).arg(&config).output().unwrap();
    assert!(validate.status.success(), "the installed config.yaml is the valid built-in one");
    let env_file = root.path().join("etc/otelbox/otelbox.env");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&env_file).unwrap().permissions().mode() & 0o777,
        0o640,
        "tokens in it are not world-readable"
    );

    // A second install keeps the operator's settings.
    std::fs::write(&env_file, "OTELBOX_ARGS=--retention 1d\n").unwrap();
    let again = install(root.path());
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("kept the existing"));
    assert_eq!(std::fs::read_to_string(&env_file).unwrap(), "OTELBOX_ARGS=--retention 1d\n");

    // systemd's own check of the unit (where systemd-analyze exists), with ExecStart pointing at the scratch binary.
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        let local = root.path().join("otelbox.service");
        std::fs::write(&local, unit.replace("/usr/local/bin/otelbox", binary.to_str().unwrap())).unwrap();
        let verify = Command::new("systemd-analyze").arg("verify").arg(&local).output().unwrap();
        assert!(
            verify.status.success() && verify.stderr.is_empty(),
            "systemd-analyze verify: {}",
            String::from_utf8_lossy(&verify.stderr)
        );
    }

    // The default OTELBOX_ARGS of the shipped settings file are flags `otelbox up` accepts.
    let shipped = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/otelbox.env")).unwrap();
    let args = shipped
        .lines()
        .find_map(|l| l.strip_prefix("OTELBOX_ARGS="))
        .expect("OTELBOX_ARGS in assets/otelbox.env");
    let check = Command::new(env!("CARGO_BIN_EXE_otelbox")).args(["up", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&check.stdout);
    for flag in args.split_whitespace().filter(|a| a.starts_with("--")) {
        assert!(help.contains(flag), "otelbox up has no {flag}");
    }
}
