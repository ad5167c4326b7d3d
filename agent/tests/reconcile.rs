#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Reconciliation: containers of sessions the control plane does not know
//! are removed, foreign containers never; a restarted agent converges.

mod common;

use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use oriel_agent::{DockerRuntime, SessionRuntime as _, probe_rfb};

/// A container this agent did not create: `docker run` with the given labels.
struct Foreign(String);

impl Foreign {
    fn start(name: &str, labels: &[&str]) -> Foreign {
        let mut cmd = Command::new("docker");
        cmd.args(["run", "-d", "--name", name, "--network", "none"]);
        for l in labels {
            cmd.args(["--label", l]);
        }
        let out = cmd.arg(test_image()).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        Foreign(name.to_owned())
    }

    fn exists(&self) -> bool {
        inspect("container", &self.0).is_some()
    }
}

impl Drop for Foreign {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v", &self.0])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_sessions_are_removed_and_foreign_containers_kept() {
    let id = agent_id("rec");
    let _guard = LabelGuard(id.clone());
    let agent = agent(&id).await;
    let (spec, keep, drop) = (spec(), sid("s-keep"), sid("s-drop"));
    let (k, d) = tokio::join!(agent.launch(&spec, &keep), agent.launch(&spec, &drop));
    let (k, d) = (k.unwrap(), d.unwrap());
    // Same session label, another agent's label; and no label at all.
    let other = Foreign::start(
        &format!("{id}-other-agent"),
        &["oriel.agent=someone-else", "oriel.session=s-drop"],
    );
    let unlabelled = Foreign::start(&format!("{id}-unlabelled"), &[]);

    let known = HashSet::from([keep.clone()]);
    let report = agent.reconcile(&known).await.unwrap();
    assert_eq!(report.removed_containers, vec![drop.clone()]);
    assert_eq!(report.removed_networks.len(), 1);
    assert!(report.removed_rules > 0);
    assert!(probe_rfb(k.vnc_addr).await, "known session untouched");
    assert!(!probe_rfb(d.vnc_addr).await);
    assert_eq!(agent.sessions().await.unwrap(), vec![keep.clone()]);
    assert!(
        other.exists() && unlabelled.exists(),
        "foreign containers kept"
    );
    assert!(
        rules(&id)
            .iter()
            .all(|r| r.contains("oriel:") && r.contains(":s-keep"))
    );

    // A second pass with the same knowledge changes nothing.
    let again = agent.reconcile(&known).await.unwrap();
    assert_eq!(again, Default::default());

    agent.reconcile(&HashSet::new()).await.unwrap();
    assert_eq!(labelled(&id), (vec![], vec![]));
    assert!(rules(&id).is_empty());
    assert!(other.exists() && unlabelled.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_agent_converges_quickly() {
    let id = agent_id("restart");
    let _guard = LabelGuard(id.clone());
    let spec = spec();
    let sessions: Vec<_> = (0..3).map(|i| sid(&format!("s-{i}"))).collect();
    {
        let first = agent(&id).await;
        for s in &sessions {
            first.launch(&spec, s).await.unwrap();
        }
        // One of them crashes (its container stops on its own).
        let out = Command::new("docker")
            .args(["kill", &format!("oriel-{id}-s-2")])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        // The agent "crashes": dropped without ending anything.
    }
    let other = Foreign::start(
        &format!("{id}-foreign"),
        &["oriel.agent=another-agent", "oriel.session=s-1"],
    );

    let started = Instant::now();
    let second = DockerRuntime::connect(settings(&id)).await.unwrap();
    let mut found = second.sessions().await.unwrap();
    found.sort();
    assert_eq!(found, sessions, "the new agent sees the old containers");
    // The control plane knows s-0 and s-2 as running (s-2's container died).
    let known = HashSet::from([sessions[0].clone(), sessions[2].clone()]);
    let report = second.reconcile(&known).await.unwrap();
    assert_eq!(report.removed_containers, vec![sessions[1].clone()]);
    let elapsed = started.elapsed();
    eprintln!("converged in {elapsed:?}");
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
    assert!(other.exists());

    // The dead container of a known session stays for the control plane to
    // end (its state is visible); ending it leaves nothing.
    second.end(&sessions[2]).await.unwrap();
    second.end(&sessions[0]).await.unwrap();
    assert_eq!(labelled(&id), (vec![], vec![]));
    assert!(rules(&id).is_empty());
    assert!(other.exists());
}

#[tokio::test]
async fn a_stale_firewall_rule_is_reconciled() {
    // Rules left by a crash between network removal and rule removal.
    let id = agent_id("fwstale");
    let _guard = LabelGuard(id.clone());
    let agent = agent(&id).await;
    let fw = oriel_agent::Firewall::new(&id);
    fw.isolate(
        &sid("s-gone"),
        "orlstaletest0",
        &["10.99.0.0/16".to_owned()],
    )
    .await
    .unwrap();
    // INPUT, DOCKER-USER and the FORWARD backstop; a TCP reset and a
    // generic reject in each.
    assert_eq!(rules(&id).len(), 6);
    let report = agent.reconcile(&HashSet::new()).await.unwrap();
    assert_eq!(report.removed_rules, 6);
    assert!(rules(&id).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_periodic_reconciler_converges_and_spares_sessions_when_the_source_fails() {
    use std::sync::{Arc, Mutex};
    use tokio::sync::mpsc;

    let id = agent_id("periodic");
    let _guard = LabelGuard(id.clone());
    let agent = agent(&id).await;
    let running = agent.launch(&spec(), &sid("s-p")).await.unwrap();

    // What the "control plane" answers next: Err = unreachable.
    let answer: Arc<Mutex<Result<HashSet<_>, String>>> =
        Arc::new(Mutex::new(Err("control plane unreachable".to_owned())));
    // Each call of the source is reported: call n+1 means pass n finished.
    let (calls_tx, mut calls) = mpsc::unbounded_channel();
    let source = {
        let answer = answer.clone();
        move || {
            let a = answer.lock().unwrap().clone();
            let _ = calls_tx.send(());
            async move { a }
        }
    };
    let runtime = agent.clone();
    let task = tokio::spawn(async move {
        oriel_agent::reconcile_every(&runtime, Duration::from_millis(100), source).await
    });
    // Two passes with the source failing: nothing removed.
    for _ in 0..3 {
        calls.recv().await.unwrap();
    }
    assert!(probe_rfb(running.vnc_addr).await);
    // The session is no longer known: the next full pass removes it.
    *answer.lock().unwrap() = Ok(HashSet::new());
    // Calls made before the change are drained; one in flight may still
    // carry the old answer, the next carries the new one, and the one after
    // that proves its pass finished.
    while calls.try_recv().is_ok() {}
    for _ in 0..3 {
        calls.recv().await.unwrap();
    }
    task.abort();
    assert_eq!(labelled(&id), (vec![], vec![]));
    assert!(rules(&id).is_empty());
}
