//! For unit tests: a connection to the test binary's own throwaway cluster (never a server
//! already running on the machine).

use tokio_postgres::Client;

pub(crate) async fn client() -> Client {
    let url = tokio::task::spawn_blocking(|| tandem_ephemeral::shared().map(|c| c.url("postgres")))
        .await
        .unwrap()
        .expect("the throwaway cluster starts");
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}
