package postgres

import "github.com/jackc/pgx/v5/pgxpool"

// Node is the id this handle stores and announces its decisions under.
func (db *DB) Node() string { return db.node }

// Pool is the handle's connection pool.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }
