//! The HTML report in a real browser: a real sweep (two model kinds, two latent sizes, two
//! seeds) is reported, and Debian's headless Chromium, driven over WebDriver by chromedriver,
//! loads the page. It must load with no console error, render every image and SVG with a
//! non-zero size, show one results row per run and one configuration row per configuration,
//! fit the 1,300 px window (wide tables scroll in their own box), keep legends off the plots,
//! and sort the results table when a header is clicked. A screenshot is saved as
//! `target/report-screenshot.png`. `cargo xtask ci` installs `chromium` and `chromium-driver`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A chromedriver process, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Self {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(binary).exists(),
                "{binary} is missing: install the Debian packages chromium and chromium-driver \
                 (`cargo xtask ci` does)"
            );
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while ureq::get(format!("{}/status", driver.url)).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        driver
    }

    fn post(&self, path: &str, body: Value) -> Value {
        let mut response = ureq::post(format!("{}{path}", self.url))
            .send_json(body)
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        response.body_mut().read_json::<Value>().unwrap()["value"].take()
    }

    fn get(&self, path: &str) -> Value {
        let mut response = ureq::get(format!("{}{path}", self.url))
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        response.body_mut().read_json::<Value>().unwrap()["value"].take()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a small real sweep and returns its folder.
fn sweep(dir: &Path) -> PathBuf {
    let spec = dir.join("browser.toml");
    std::fs::write(
        &spec,
        "[experiment]\nname = \"browser\"\nseed = 2\nrepeats = 3\n\n[data]\ndataset = \"mnist\"\n\
         validation = 0.1\ntrain_limit = 1000\ntest_limit = 200\n\n[model]\nhidden = [32]\n\n\
         [loss]\nreconstruction = \"bce\"\n\n[train]\nlearning_rate = 3e-3\nbatch_size = 100\n\
         epochs = 2\n\n[evaluate]\ntasks = [\"reconstruction\", \"compression\", \"generation\"]\n\n\
         [resources]\nworkers = 2\nthreads_per_worker = 1\n\n[sweep.parameters]\n\
         \"model.kind\" = [\"vanilla\", \"vae\"]\n\"model.latent\" = [2, 8]\n",
    )
    .unwrap();
    let reports = dir.join("reports");
    let output = Command::new(env!("CARGO_BIN_EXE_hourglass"))
        .current_dir(repo())
        .arg("--datasets")
        .arg(repo().join("datasets"))
        .args(["sweep", spec.to_str().unwrap(), "--reports"])
        .arg(&reports)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    reports.join("browser")
}

/// What the page shows, measured in the browser.
const MEASURE: &str = "return {
  elements: [...document.querySelectorAll('img, svg')].filter(e => !e.parentElement.closest('svg'))
    .map(e => { const r = e.getBoundingClientRect();
      return { tag: e.tagName, width: r.width, height: r.height,
               loaded: e.tagName !== 'IMG' || (e.complete && e.naturalWidth > 0) }; }),
  runs: document.querySelectorAll('#results-table tbody tr').length,
  configurations: document.querySelectorAll('#configurations-table tbody tr').length,
  sections: [...document.querySelectorAll('section')].map(s => s.id),
  search: [...document.querySelectorAll('#search figure > svg')]
    .map(s => s.querySelectorAll('polyline, path, rect, circle').length),
  overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  legends: [...document.querySelectorAll('figure')].filter(f => f.querySelector('ul.legend'))
    .map(f => { const a = f.querySelector('svg').getBoundingClientRect(),
                      b = f.querySelector('ul.legend').getBoundingClientRect();
      return { overlap: !(b.top >= a.bottom || b.bottom <= a.top || b.left >= a.right
                          || b.right <= a.left) }; })
};";

/// Clicks the `test_mse` header of the results table and returns that column, top to bottom.
const SORT_BY_MSE: &str = "const table = document.querySelector('#results-table');
const column = [...table.tHead.rows[0].cells].findIndex(c => c.textContent === 'test_mse');
table.tHead.rows[0].cells[column].click();
return [...table.tBodies[0].rows].map(r => parseFloat(r.cells[column].textContent));";

#[test]
fn the_report_renders_in_chromium_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    let sweep_dir = sweep(dir.path());
    let driver = Driver::start();
    let session = driver.post(
        "/session",
        json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1300,3200"]
            },
            "goog:loggingPrefs": {"browser": "ALL"}
        }}}),
    );
    let session = format!("/session/{}", session["sessionId"].as_str().unwrap());
    let page = format!("file://{}", sweep_dir.join("index.html").display());
    driver.post(&format!("{session}/url"), json!({ "url": page }));

    let shown = driver.post(
        &format!("{session}/execute/sync"),
        json!({"script": MEASURE, "args": []}),
    );
    let screenshot = driver.get(&format!("{session}/screenshot"));
    let png = base64::engine::general_purpose::STANDARD
        .decode(screenshot.as_str().unwrap())
        .unwrap();
    let shot_path = repo().join("target/report-screenshot.png");
    std::fs::write(&shot_path, png).unwrap();
    eprintln!("screenshot: {}", shot_path.display());

    let log = driver.post(&format!("{session}/se/log"), json!({"type": "browser"}));
    let errors: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["level"] == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");

    let elements = shown["elements"].as_array().unwrap();
    // Two kinds: a curve plot each, a plot per numeric swept setting (latent), the three
    // views of the search (parallel coordinates, setting importance, history), the
    // rate-distortion plot, and for the best run of each kind its latent map, reconstructions,
    // samples and interpolations (the generation task gives them to the vanilla kind too).
    let count = |tag: &str| elements.iter().filter(|e| e["tag"] == tag).count();
    assert_eq!(count("svg"), 9, "{shown}");
    assert_eq!(count("IMG"), 6, "{shown}");
    for element in elements {
        assert!(
            element["width"].as_f64().unwrap() > 0.0
                && element["height"].as_f64().unwrap() > 0.0
                && element["loaded"] == true,
            "not rendered: {element}"
        );
    }
    // Nothing is wider than the 1,300 px window (wide tables scroll in their own box), and
    // legends sit beside their plots, never over them.
    assert_eq!(shown["overflow"], 0, "{shown}");
    let legends = shown["legends"].as_array().unwrap();
    assert!(!legends.is_empty(), "{shown}");
    assert!(legends.iter().all(|l| l["overlap"] == false), "{shown}");
    assert_eq!(shown["runs"], 12, "{shown}");
    // Each view of the search draws its marks: twelve lines, two bars, twelve dots.
    let marks = shown["search"].as_array().unwrap();
    assert_eq!(marks.len(), 3, "{shown}");
    assert!(marks.iter().all(|m| m.as_u64().unwrap() >= 2), "{shown}");
    assert_eq!(shown["configurations"], 4, "{shown}");
    for section in [
        "summary",
        "how-to-read",
        "results",
        "configurations",
        "curves",
        "images",
        "latent",
        "compression",
        "search",
    ] {
        assert!(
            shown["sections"]
                .as_array()
                .unwrap()
                .contains(&json!(section)),
            "no section {section}: {shown}"
        );
    }

    let sorted: Vec<f64> = driver
        .post(
            &format!("{session}/execute/sync"),
            json!({"script": SORT_BY_MSE, "args": []}),
        )
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(sorted.len(), 12);
    assert!(sorted.windows(2).all(|w| w[0] <= w[1]), "{sorted:?}");

    ureq::delete(format!("{}{session}", driver.url))
        .call()
        .unwrap();
}
