//! `create` copies the schema from blue's catalogs: types, domains, sequences, functions,
//! tables with identity, generated and collated columns, constraints, indexes, views and
//! triggers; then rows replicate into it, generated columns computed on green.

mod common;

use common::*;
use tandem_bluegreen::Quiet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_schema_is_copied_and_filled() {
    let blue_cluster = logical_cluster(&[]);
    let green_cluster = logical_cluster(&[]);
    let blue = database(&blue_cluster, "catalog").await;
    let green = database(&green_cluster, "catalog").await;
    let b = client(&blue).await;
    b.batch_execute(
        r#"CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
         CREATE DOMAIN public.positive AS integer CHECK (VALUE > 0);
         CREATE SEQUENCE public.ticket_seq START 1000 INCREMENT 5;
         CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated := now(); RETURN NEW; END $$;
         CREATE TABLE public."People" (
             id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             name text COLLATE "C" NOT NULL,
             mood public.mood NOT NULL DEFAULT 'ok',
             age public.positive,
             ticket bigint NOT NULL DEFAULT nextval('public.ticket_seq'),
             name_length int GENERATED ALWAYS AS (length(name)) STORED,
             updated timestamptz,
             CONSTRAINT adult CHECK (age IS NULL OR age >= 18));
         CREATE UNIQUE INDEX people_lower_name ON public."People" (lower(name)) WHERE mood <> 'sad';
         CREATE TRIGGER touch BEFORE UPDATE ON public."People" FOR EACH ROW EXECUTE FUNCTION public.touch();
         CREATE TABLE public.visits (person_id bigint NOT NULL REFERENCES public."People" ON DELETE CASCADE, at date NOT NULL, UNIQUE (person_id, at));
         ALTER TABLE public.visits REPLICA IDENTITY USING INDEX visits_person_id_at_key;
         CREATE VIEW public.happy_people AS SELECT id, name FROM public."People" WHERE mood = 'happy';
         INSERT INTO public."People" (name, mood, age) SELECT 'p' || g, (ARRAY['sad','ok','happy'])[g % 3 + 1]::public.mood, 18 + g % 50 FROM generate_series(1, 300) g;
         INSERT INTO public.visits SELECT id, DATE '2026-01-01' + (id % 20)::int FROM public."People";"#,
    )
    .await
    .unwrap();
    let options = options(&blue, &green);
    let report = tandem_bluegreen::create(&options, &[], &Quiet)
        .await
        .unwrap();
    assert!(report.staged.is_empty(), "{report:?}");
    wait_streaming(&options).await;
    b.execute(
        "UPDATE public.\"People\" SET name = 'renamed' WHERE id = 1",
        &[],
    )
    .await
    .unwrap();
    b.execute("DELETE FROM public.visits WHERE person_id = 2", &[])
        .await
        .unwrap();
    let verified = tandem_bluegreen::verify(&options, &Default::default(), &Quiet)
        .await
        .unwrap();
    assert!(verified.ok, "{verified:?}");

    let g = client(&green).await;
    assert_eq!(
        count(&g, "SELECT count(*) FROM public.happy_people").await,
        100
    );
    assert_eq!(
        strings(
            &g,
            "SELECT name || ':' || name_length FROM public.\"People\" WHERE id = 1"
        )
        .await,
        vec!["renamed:7".to_string()],
        "the generated column is computed on green"
    );
    assert_eq!(
        count(&g, "SELECT count(*) FROM public.visits WHERE person_id = 2").await,
        0
    );
    for (what, sql) in [
        ("enum", "SELECT count(*) FROM pg_enum WHERE enumtypid = 'public.mood'::regtype"),
        ("domain check", "SELECT count(*) FROM pg_constraint WHERE contypid = 'public.positive'::regtype"),
        ("partial expression index", "SELECT count(*) FROM pg_indexes WHERE indexname = 'people_lower_name' AND indexdef LIKE '%lower(name)%WHERE%'"),
        ("trigger", "SELECT count(*) FROM pg_trigger WHERE tgname = 'touch'"),
        ("foreign key", "SELECT count(*) FROM pg_constraint WHERE conrelid = 'public.visits'::regclass AND contype = 'f'"),
        ("replica identity index", "SELECT count(*) FROM pg_index WHERE indrelid = 'public.visits'::regclass AND indisreplident"),
        ("identity", "SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.\"People\"'::regclass AND attname = 'id' AND attidentity = 'a'"),
        ("collation", "SELECT count(*) FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation WHERE attrelid = 'public.\"People\"'::regclass AND attname = 'name' AND collname = 'C'"),
        ("check", "SELECT count(*) FROM pg_constraint WHERE conname = 'adult'"),
        ("sequence", "SELECT count(*) FROM pg_sequences WHERE sequencename = 'ticket_seq' AND increment_by = 5"),
    ] {
        assert_eq!(count(&g, sql).await, 3_i64.min(if what == "enum" { 3 } else { 1 }), "{what}: {sql}");
    }
    tandem_bluegreen::cleanup(&options).await.unwrap();
}
