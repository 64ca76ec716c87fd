//! The PostgreSQL schema (`migrations/postgres/`, issue 22's store-to-be) against the SQLite
//! one (`migrations/`), on a throwaway PostgreSQL: the same migration names, and after both the
//! same tables, columns, nullability, primary keys, indexes and CHECKs, each in its store's own
//! types. When a SQLite migration is added without its PostgreSQL twin (or the other way
//! round), this fails.

use std::collections::{BTreeMap, BTreeSet};

use sesh_gateway::{
    crypto::{SecretKey, TokenCipher},
    db::Database,
};
use sqlx::{PgPool, Row, SqlitePool};

use crate::common::postgres::Postgres;

static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// A column as both stores describe it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Column {
    name: String,
    /// The store's own type name, lower case.
    ty: String,
    not_null: bool,
}

/// Tables (with their columns and primary key, in key order) and index names.
#[derive(Debug, Default)]
struct Schema {
    tables: BTreeMap<String, (BTreeSet<Column>, Vec<String>)>,
    indexes: BTreeSet<String>,
}

async fn sqlite_schema(pool: &SqlitePool) -> Schema {
    let mut schema = Schema::default();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table'
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for table in tables {
        let rows = sqlx::query("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1)")
            .bind(&table)
            .fetch_all(pool)
            .await
            .unwrap();
        let mut key: Vec<(i64, String)> = Vec::new();
        let mut columns = BTreeSet::new();
        for row in rows {
            let name: String = row.get(0);
            let pk: i64 = row.get(3);
            if pk > 0 {
                key.push((pk, name.clone()));
            }
            columns.insert(Column {
                // A key column cannot be NULL in PostgreSQL; SQLite only enforces it when asked.
                not_null: row.get::<i64, _>(2) == 1 || pk > 0,
                ty: row.get::<String, _>(1).to_lowercase(),
                name,
            });
        }
        key.sort();
        let key = key.into_iter().map(|(_, name)| name).collect();
        schema.tables.insert(table, (columns, key));
    }
    schema.indexes = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    schema
}

async fn postgres_schema(pool: &PgPool) -> Schema {
    let mut schema = Schema::default();
    let rows = sqlx::query(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable = 'NO'
         FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for row in rows {
        let table: String = row.get(0);
        schema.tables.entry(table).or_default().0.insert(Column {
            name: row.get(1),
            ty: row.get::<String, _>(2).to_lowercase(),
            not_null: row.get(3),
        });
    }
    let keys = sqlx::query(
        "SELECT k.table_name::text, k.column_name::text
         FROM information_schema.table_constraints c
         JOIN information_schema.key_column_usage k
           ON k.constraint_name = c.constraint_name AND k.table_schema = c.table_schema
         WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = 'public'
           AND c.table_name <> '_sqlx_migrations'
         ORDER BY k.table_name, k.ordinal_position",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for row in keys {
        let table: String = row.get(0);
        schema.tables.entry(table).or_default().1.push(row.get(1));
    }
    // Indexes made by name, not those behind a primary key or a UNIQUE column.
    schema.indexes = sqlx::query_scalar(
        "SELECT i.indexname::text FROM pg_indexes i
         WHERE i.schemaname = 'public' AND i.tablename <> '_sqlx_migrations'
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    schema
}

/// Whether PostgreSQL's `pg` type stores what SQLite's `sqlite` type does, natively: integers
/// as BIGINT (Unix milliseconds do not fit in INTEGER) or BOOLEAN (SQLite's 0/1 flags), text as
/// TEXT or JSONB (SQLite's JSON documents), blobs as BYTEA.
fn same_kind(sqlite: &str, pg: &str) -> bool {
    matches!(
        (sqlite, pg),
        ("integer", "bigint" | "boolean") | ("text", "text" | "jsonb") | ("blob", "bytea")
    )
}

#[tokio::test]
async fn the_postgresql_schema_matches_the_sqlite_one_migration_for_migration() {
    // The same migrations, by version and name.
    let sqlite_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let names = |dir: &std::path::Path| -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sql"))
            .collect()
    };
    let sqlite_names = names(&sqlite_dir);
    assert_eq!(sqlite_names, names(&sqlite_dir.join("postgres")));
    assert_eq!(POSTGRES.iter().count(), sqlite_names.len());

    // Both stores migrated from empty: SQLite by the server's own start-up path.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("sesh.db").display());
    let db = Database::connect(&url, TokenCipher::new(&SecretKey::generate()))
        .await
        .unwrap();
    let sqlite = sqlite_schema(db.sqlite_pool().unwrap()).await;
    let server = Postgres::start().await;
    let pg_pool = PgPool::connect(&server.url).await.unwrap();
    POSTGRES.run(&pg_pool).await.unwrap();
    POSTGRES.run(&pg_pool).await.unwrap(); // again: nothing to do
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&pg_pool)
        .await
        .unwrap();
    assert_eq!(applied as usize, sqlite_names.len());
    let pg = postgres_schema(&pg_pool).await;

    assert_eq!(
        sqlite.tables.keys().collect::<Vec<_>>(),
        pg.tables.keys().collect::<Vec<_>>(),
        "the same tables"
    );
    for (table, (sqlite_columns, sqlite_key)) in &sqlite.tables {
        let (pg_columns, pg_key) = &pg.tables[table];
        let names = |columns: &BTreeSet<Column>| -> Vec<(String, bool)> {
            columns
                .iter()
                .map(|c| (c.name.clone(), c.not_null))
                .collect()
        };
        assert_eq!(
            names(sqlite_columns),
            names(pg_columns),
            "{table}: the same columns, NULL where the other allows NULL"
        );
        for (s, p) in sqlite_columns.iter().zip(pg_columns) {
            assert!(
                same_kind(&s.ty, &p.ty),
                "{table}.{}: {} in SQLite, {} in PostgreSQL",
                s.name,
                s.ty,
                p.ty
            );
        }
        assert_eq!(sqlite_key, pg_key, "{table}: the same primary key");
    }
    assert_eq!(sqlite.indexes, pg.indexes, "the same indexes");

    // The CHECKs the later migrations widened hold as in SQLite: a spectator member is a role
    // now, an unknown role is not.
    sqlx::query(
        "INSERT INTO users (id, display_name, access_token, token_expires_at, created_at, updated_at)
         VALUES ('alice', 'Alice', '\\x00', 0, 0, 0)",
    )
    .execute(&pg_pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO listening_sessions (id, invite_code, host_id, state, snapshot, created_at, updated_at)
         VALUES ('s1', 'CODE', 'alice', 'lobby', '{}', 0, 0)",
    )
    .execute(&pg_pool)
    .await
    .unwrap();
    let member = |role: &'static str| {
        sqlx::query(
            "INSERT INTO session_members (session_id, user_id, display_name, role, joined_at)
             VALUES ('s1', 'alice', 'Alice', $1, 0)
             ON CONFLICT (session_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(role)
        .execute(&pg_pool)
    };
    member("spectator").await.unwrap();
    member("co_host").await.unwrap();
    let refused = member("dj").await.unwrap_err();
    assert!(
        refused.to_string().contains("session_members_role_check"),
        "{refused}"
    );
    pg_pool.close().await;
}
