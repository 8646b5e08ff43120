-- pg_temp.err(cmd): 'ok', or the SQLSTATE and message of cmd's error (the
-- SQLSTATE catches a wrong error class; no LOCATION line to drift).
CREATE FUNCTION pg_temp.err(cmd text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE cmd;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN sqlstate || ': ' || sqlerrm;
END $$;
