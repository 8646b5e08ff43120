--
-- PostgreSQL database dump
--
-- A fixture for test/t/066_pgvector_migration.pl: the schema-only pg_dump
-- (PostgreSQL 15, pg_dump -O) of a pgvector database, in pg_dump's layout,
-- holding the table and index DDL of pgvector's documentation: a vector
-- column, ivfflat and hnsw indexes with and without options and operator
-- classes, a partial index, halfvec and binary-quantize expression indexes,
-- an L1 index, a partitioned table, and a view using <->.
--

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: vector; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;


--
-- Name: EXTENSION vector; Type: COMMENT; Schema: -; Owner: 
--

COMMENT ON EXTENSION vector IS 'vector data type and ivfflat and hnsw access methods';


SET default_tablespace = '';

--
-- Name: events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.events (
    id bigint NOT NULL,
    embedding public.vector(3)
)
PARTITION BY RANGE (id);


SET default_table_access_method = heap;

--
-- Name: categories; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.categories (
    id integer NOT NULL,
    name text
);


--
-- Name: docs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.docs (
    id integer NOT NULL,
    "body text" text,
    embedding public.vector(3) NOT NULL
)
WITH (fillfactor='90');


--
-- Name: events_low; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.events_low (
    id bigint NOT NULL,
    embedding public.vector(3)
);


--
-- Name: items; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.items (
    id bigint NOT NULL,
    category_id integer,
    embedding public.vector(3)
);


--
-- Name: items_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.items_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: items_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.items_id_seq OWNED BY public.items.id;


--
-- Name: nearest_to_origin; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.nearest_to_origin AS
 SELECT items.id,
    (items.embedding OPERATOR(public.<->) '[0,0,0]'::public.vector) AS distance
   FROM public.items;


--
-- Name: events_low; Type: TABLE ATTACH; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events ATTACH PARTITION public.events_low FOR VALUES FROM (MINVALUE) TO ('1000');


--
-- Name: items id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.items ALTER COLUMN id SET DEFAULT nextval('public.items_id_seq'::regclass);


--
-- Name: categories categories_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.categories
    ADD CONSTRAINT categories_pkey PRIMARY KEY (id);


--
-- Name: items items_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.items
    ADD CONSTRAINT items_pkey PRIMARY KEY (id);


--
-- Name: docs_embedding_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX docs_embedding_idx ON public.docs USING hnsw (embedding public.vector_cosine_ops) WITH (m='16', ef_construction='64');


--
-- Name: items_bq_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX items_bq_idx ON public.items USING hnsw (((public.binary_quantize(embedding))::bit(3)) public.bit_hamming_ops);


--
-- Name: items_category_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX items_category_id_idx ON public.items USING btree (category_id);


--
-- Name: items_embedding_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX items_embedding_idx ON public.items USING ivfflat (embedding public.vector_l2_ops) WITH (lists='100');


--
-- Name: items_embedding_idx1; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX items_embedding_idx1 ON public.items USING hnsw (embedding public.vector_ip_ops);


--
-- Name: items_embedding_idx2; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX items_embedding_idx2 ON public.items USING ivfflat (embedding) WITH (lists='10') WHERE (category_id = 123);


--
-- Name: items_embedding_idx3; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX items_embedding_idx3 ON public.items USING hnsw (((embedding)::public.halfvec(3)) public.halfvec_l2_ops);


--
-- Name: items_l1_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX items_l1_idx ON public.items USING hnsw (embedding public.vector_l1_ops);


--
-- Name: events_embedding_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX events_embedding_idx ON ONLY public.events USING hnsw (embedding public.vector_l2_ops);


--
-- Name: events_low_embedding_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX events_low_embedding_idx ON public.events_low USING hnsw (embedding public.vector_l2_ops);


--
-- Name: events_low_embedding_idx; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.events_embedding_idx ATTACH PARTITION public.events_low_embedding_idx;


--
-- Name: items items_category_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.items
    ADD CONSTRAINT items_category_id_fkey FOREIGN KEY (category_id) REFERENCES public.categories(id);


--
-- PostgreSQL database dump complete
--

