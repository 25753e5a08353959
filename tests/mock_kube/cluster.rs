//! A mock-kube per test, driven by the real kubectl (own kubeconfig and cache dir), every child
//! process bounded in time, and a raw watch over HTTP.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use engram_operator::mock_kube::{MockKube, MockKubeConfig};
use serde_json::Value;

/// No kubectl call of these tests takes more than this.
const KUBECTL_LIMIT: Duration = Duration::from_secs(60);

pub struct Cluster {
    pub mock: MockKube,
    pub dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

/// What a kubectl run left.
pub struct Out {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Run a command to its end, killed (and the test failed) after `limit`.
fn bounded(mut cmd: Command, dir: &std::path::Path, limit: Duration) -> Out {
    let n = fastrand::u64(..);
    let (out_path, err_path) = (dir.join(format!("{n}.out")), dir.join(format!("{n}.err")));
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let mut child = cmd
        .spawn()
        .expect("kubectl is required for this test; `make test` installs it with .ci/tools.sh");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{cmd:?} did not end within {limit:?}; stderr: {}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Out {
        ok: status.success(),
        stdout: std::fs::read_to_string(out_path).unwrap(),
        stderr: std::fs::read_to_string(err_path).unwrap(),
    }
}

impl Cluster {
    pub async fn start() -> Cluster {
        let mock = MockKube::start(MockKubeConfig::default()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        mock.write_kubeconfig(&kubeconfig).unwrap();
        Cluster {
            mock,
            dir,
            kubeconfig,
        }
    }

    /// The command line of a kubectl run against this server.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("kubectl");
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        cmd
    }

    /// Run kubectl (off the runtime's threads: the server runs on them).
    pub async fn kubectl(&self, args: &[&str]) -> Out {
        let cmd = self.command(args);
        let dir = self.dir.path().to_owned();
        tokio::task::spawn_blocking(move || bounded(cmd, &dir, KUBECTL_LIMIT))
            .await
            .unwrap()
    }

    /// Run kubectl and expect success; its stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args).await;
        assert!(
            out.ok,
            "kubectl {args:?} failed: {}{}",
            out.stdout, out.stderr
        );
        out.stdout
    }

    /// `kubectl get ... -o json`, parsed.
    pub async fn get_json(&self, args: &[&str]) -> Value {
        let mut a = vec!["get"];
        a.extend(args);
        a.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&a).await).unwrap()
    }

    /// Apply a manifest given as text.
    pub async fn apply_text(&self, name: &str, yaml: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, yaml).unwrap();
        self.ok(&["apply", "-f", path.to_str().unwrap()]).await
    }

    /// `kubectl apply -n engram -f FILE` (relative to the package root): what kubectl left.
    pub async fn apply_in_engram(&self, file: &str) -> Out {
        self.kubectl(&["apply", "-n", "engram", "-f", file]).await
    }

    /// `kubectl patch edp acme-dev -n engram ARGS…`, then the object as it is now.
    pub async fn patch_dev(&self, args: &[&str]) -> Value {
        let mut all = vec!["patch", "edp", "acme-dev", "-n", "engram"];
        all.extend_from_slice(args);
        self.ok(&all).await;
        self.get_json(&["edp", "acme-dev", "-n", "engram"]).await
    }

    /// The CRD and the `engram` namespace the examples use.
    pub async fn install(&self) {
        let out = self.ok(&["apply", "-f", "crds/engramdataplane.yaml"]).await;
        assert!(out.contains("created"), "{out}");
        // A typed kubectl command: its body is protobuf.
        let out = self.ok(&["create", "namespace", "engram"]).await;
        assert!(out.contains("namespace/engram created"), "{out}");
    }

    /// Open a watch on a path (with its query), as a raw HTTP stream.
    pub async fn watch(&self, path_and_query: &str) -> Watch {
        self.watch_as(path_and_query, "application/json").await
    }

    /// Open a watch with this Accept header.
    pub async fn watch_as(&self, path_and_query: &str, accept: &str) -> Watch {
        let url = format!("{}{path_and_query}", self.mock.base_url());
        let resp = reqwest::Client::new()
            .get(&url)
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{url}");
        Watch {
            resp,
            buf: String::new(),
        }
    }
}

/// A watch stream, read line by line.
pub struct Watch {
    resp: reqwest::Response,
    buf: String,
}

impl Watch {
    /// The next event, or `None` when the server ends the stream.
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(i) = self.buf.find('\n') {
                let line: String = self.buf.drain(..=i).collect();
                return Some(serde_json::from_str(&line).unwrap());
            }
            let chunk = tokio::time::timeout(Duration::from_secs(30), self.resp.chunk())
                .await
                .expect("a watch event within 30 s")
                .unwrap()?;
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next event's type and object name.
    pub async fn next_pair(&mut self) -> (String, String) {
        let e = self.next().await.expect("the watch goes on");
        (
            e["type"].as_str().unwrap().to_owned(),
            e["object"]["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    }
}
