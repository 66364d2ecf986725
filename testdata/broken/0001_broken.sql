-- A tenant migration that always fails, to test that provisioning rolls back.
CREATE TABLE ok_table (id int);
SELECT 1/0;
