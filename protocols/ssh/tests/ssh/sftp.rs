//! SFTP behind `FileTransfer`: a 1 MiB round trip, listing, a missing file,
//! an upload cut short.

use crate::support::{Live, password, request};
use bytes::Bytes;
use oriel_protocols_session::{FileError, TargetTrust};
use oriel_testkit::sshd::Sshd;
use std::time::Instant;
use tokio::sync::mpsc;

fn random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sftp_round_trip_list_missing_and_abort() {
    let started = Instant::now();
    let sshd = Sshd::start().await.expect("sshd");
    let live = Live::connect(request(
        sshd.port(),
        password(&sshd),
        TargetTrust::FirstUse,
        None,
    ))
    .await
    .expect("connect");
    let files = live
        .files
        .clone()
        .expect("ssh sessions offer file transfer");
    let home = files.home().await.expect("home");
    assert_eq!(std::path::Path::new(&home), sshd.home());

    let tag = format!("{}-{}", std::process::id(), started.elapsed().as_nanos());
    let name = format!("oriel-sftp-{tag}.bin");
    let data = random_bytes(1 << 20, 0x1234_5678_9abc_def1);

    // Upload, relative to home, in 64 KiB chunks.
    let (tx, rx) = mpsc::channel(4);
    let chunks: Vec<Bytes> = data.chunks(64 * 1024).map(Bytes::copy_from_slice).collect();
    let producer = tokio::spawn(async move {
        for c in chunks {
            tx.send(c).await.expect("upload reads");
        }
    });
    let written = files
        .upload(&name, rx, data.len() as u64)
        .await
        .expect("upload");
    producer.await.unwrap();
    assert_eq!(written, data.len() as u64);
    let on_disk = sshd.home().join(&name);
    assert_eq!(
        std::fs::read(&on_disk).unwrap(),
        data,
        "the file on the server"
    );

    // Size, listing.
    assert_eq!(files.size(&name).await, Ok(data.len() as u64));
    let listing = files.list("").await.expect("list home");
    let entry = listing
        .iter()
        .find(|e| e.name == name)
        .expect("uploaded file listed");
    assert_eq!(entry.size, data.len() as u64);
    assert!(!entry.is_dir && entry.modified.is_some());
    assert_eq!(files.list("~").await.expect("list ~").len(), listing.len());

    // Download back, byte-identical.
    let (tx, mut rx) = mpsc::channel::<Bytes>(4);
    let collector = tokio::spawn(async move {
        let mut all = Vec::new();
        while let Some(chunk) = rx.recv().await {
            all.extend_from_slice(&chunk);
        }
        all
    });
    let sent = files
        .download(&format!("~/{name}"), tx)
        .await
        .expect("download");
    assert_eq!(sent, data.len() as u64);
    assert!(collector.await.unwrap() == data, "downloaded bytes differ");

    // A missing file.
    let (tx, _rx) = mpsc::channel(4);
    let missing = files.download(&format!("no-such-{tag}"), tx).await;
    assert!(
        matches!(missing, Err(FileError::NotFound(_))),
        "{missing:?}"
    );
    assert!(matches!(
        files.size("no-such-file-here").await,
        Err(FileError::NotFound(_))
    ));

    // An upload whose sender stops early leaves nothing behind.
    let aborted = format!("oriel-sftp-aborted-{tag}.bin");
    let (tx, rx) = mpsc::channel(4);
    let partial = data[..100 * 1024].to_vec();
    let producer = tokio::spawn(async move {
        tx.send(Bytes::from(partial)).await.expect("upload reads");
        // Dropping the sender here: the viewer went away.
    });
    let result = files.upload(&aborted, rx, data.len() as u64).await;
    producer.await.unwrap();
    assert!(matches!(result, Err(FileError::Aborted(_))), "{result:?}");
    let leftovers: Vec<_> = files
        .list("")
        .await
        .expect("list")
        .into_iter()
        .filter(|e| e.name.contains(&aborted))
        .collect();
    assert!(
        leftovers.is_empty(),
        "partial upload left behind: {leftovers:?}"
    );
    assert!(!sshd.home().join(&aborted).exists());

    std::fs::remove_file(on_disk).unwrap();
    println!("sftp test took {:?}", started.elapsed());
}
