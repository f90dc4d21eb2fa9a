use tandem_mysql::mysql_async::prelude::*;
use tandem_mysql::mysql_async::{Conn, Opts};
use tandem_mysql::shadow::binlog::*;
#[tokio::main]
async fn main() {
    let s = tandem_ephemeral::mariadb::MariaDb::start().unwrap();
    let mut c = Conn::new(Opts::from_url(&s.url("mysql")).unwrap()).await.unwrap();
    c.query_drop("CREATE DATABASE d").await.unwrap();
    let opts = tandem_mysql::connect::options(&s.url("d")).unwrap();
    c.query_drop("CREATE TABLE d.t (id int primary key, v int)").await.unwrap();
    c.query_drop("CREATE TABLE d.t2 (id int primary key, v bigint)").await.unwrap();
    let pos = current_position(&mut c).await.unwrap();
    let spec = ApplySpec { database: "d".into(), source: "t".into(), target: "t2".into(), source_columns: vec!["id".into(), "v".into()], columns: vec![("id".into(),"id".into()),("v".into(),"v".into())], key: vec!["id".into()], target_key: vec!["id".into()] };
    let mut a = Applier::start(opts, spec, pos, 999).await.unwrap();
    c.query_drop("INSERT INTO d.t VALUES (1,1),(2,2)").await.unwrap();
    c.query_drop("UPDATE d.t SET v=5 WHERE id=1").await.unwrap();
    let pos2 = current_position(&mut c).await.unwrap();
    println!("{pos2:?} {:?}", a.wait_for(&pos2, std::time::Duration::from_secs(3)).await);
    println!("applied {:?}", a.applied());
    let rows: Vec<(i32, i64)> = c.query("SELECT * FROM d.t2").await.unwrap();
    println!("{rows:?}");
    println!("{:?}", a.stop().await);
}
