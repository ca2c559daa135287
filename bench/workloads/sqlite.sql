-- bench/workloads/sqlite.sql - a real program: sqlite3 bulk insert, indexes and queries.
--
-- Run by bench/run as `sqlite3 -batch -bail -cmd ".parameter set @n ROWS" :memory:` with this
-- file on standard input, under each allocator. The database lives in memory, so every page of
-- it, the page cache, the sorter and the query results come from malloc. Rows are generated
-- with a recursive CTE from integer formulas (no random()), so every run produces the same
-- data; the last statement prints one "verify:" line from aggregates over every step.

PRAGMA cache_size = -262144;

CREATE TABLE item(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, qty INTEGER, note TEXT);
CREATE TABLE tally(step TEXT, v INTEGER);

BEGIN;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < @n)
INSERT INTO item(grp, name, qty, note)
SELECT (x * 2654435761) % 1009,
       printf('name-%08x', (x * 40503) % 4294967296),
       (x * 7919) % 10007,
       substr(printf('%x%x%x%x', x * 31, x * 37, x * 41, x * 43), 1, 8 + (x % 40))
FROM c;
COMMIT;

CREATE INDEX item_grp ON item(grp, qty);
CREATE INDEX item_name ON item(name);

-- aggregates, a sort, a self-join through an index, string building
INSERT INTO tally SELECT 'rows', count(*) FROM item;
INSERT INTO tally SELECT 'groups', sum(c * g) % 1000000007
  FROM (SELECT grp AS g, count(*) AS c FROM item GROUP BY grp);
INSERT INTO tally SELECT 'sorted', sum(rn * qty) % 1000000007
  FROM (SELECT row_number() OVER (ORDER BY name, id) AS rn, qty FROM item);
INSERT INTO tally SELECT 'join', count(*)
  FROM item a JOIN item b ON b.grp = a.grp AND b.qty BETWEEN a.qty AND a.qty + 100
  WHERE a.id % 16 = 0;
INSERT INTO tally SELECT 'text', sum(length(s))
  FROM (SELECT group_concat(note, ';') AS s FROM item GROUP BY grp % 97);
INSERT INTO tally SELECT 'distinct', count(DISTINCT substr(note, 1, 6)) FROM item;

-- updates and deletes that rewrite pages and indexes
UPDATE item SET note = note || '-' || qty WHERE grp % 7 = 3;
DELETE FROM item WHERE qty % 5 = 0;
INSERT INTO tally SELECT 'after', count(*) || ':' || sum(length(note)) FROM item;
INSERT INTO tally SELECT 'range', count(*) FROM item WHERE name BETWEEN 'name-1' AND 'name-4';

SELECT 'verify: sqlite ' || group_concat(step || '=' || v, ' ') FROM tally;
