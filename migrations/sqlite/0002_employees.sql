-- The employee directory (seed 002). Times are Unix seconds (UTC).
CREATE TABLE employees (
    id            INTEGER PRIMARY KEY,
    first_name    TEXT    NOT NULL,
    last_name     TEXT    NOT NULL,
    manager_id    INTEGER REFERENCES employees (id) ON DELETE SET NULL,
    title         TEXT,
    department    TEXT,
    office_phone  TEXT,
    cell_phone    TEXT,
    email         TEXT,
    city          TEXT,
    twitter_id    TEXT,
    blog_url      TEXT,
    last_modified INTEGER NOT NULL
);

CREATE INDEX employees_by_manager ON employees (manager_id);
CREATE INDEX employees_by_name ON employees (last_name COLLATE NOCASE, first_name COLLATE NOCASE);
CREATE INDEX employees_by_modified ON employees (last_modified);
