// Neo4j schema of Causeway's model store (DESIGN.md, "Neo4j schema").
//
//   (:Model {id, name, version, created_at, ...})-[:HAS_VARIABLE]->(:Variable {model_id, name, ...})
//   (:Variable)-[:CAUSES {effect, ci_low, ci_high, method}]->(:Variable)
//   (:Model)-[:PREVIOUS_VERSION]->(:Model)
//   (:Model)-[:HAS_MECHANISMS]->(:Mechanisms {model_id, text})   a fitted model's mechanisms
//
// Every statement is idempotent (IF NOT EXISTS), so the store and neo4j-dev can run
// this file at every start. Statements end with ';'; lines starting with '//' are
// comments. Only Community-edition features are used (no existence or key constraints).

// One node per model version: Model.id (e.g. "retail@3") is unique. The constraint
// also creates the index behind lookups by id.
CREATE CONSTRAINT model_id IF NOT EXISTS
FOR (m:Model) REQUIRE m.id IS UNIQUE;

// A variable's name is unique within its model version, and the pair is the lookup
// key of every traversal. Composite uniqueness is supported by Community.
CREATE CONSTRAINT variable_model_name IF NOT EXISTS
FOR (v:Variable) REQUIRE (v.model_id, v.name) IS UNIQUE;

// Model browser: list the versions of a model by its name.
CREATE INDEX model_name IF NOT EXISTS
FOR (m:Model) ON (m.name);

// One version counter per model name. Saves take the next version from it inside
// their transaction; uniqueness makes concurrent first saves of a new name share one
// counter (and so get 1, 2, 3, …) instead of each creating its own.
CREATE CONSTRAINT model_counter_name IF NOT EXISTS
FOR (c:ModelCounter) REQUIRE c.name IS UNIQUE;

// A fitted model's serialised mechanisms: at most one node per model version.
CREATE CONSTRAINT mechanisms_model_id IF NOT EXISTS
FOR (x:Mechanisms) REQUIRE x.model_id IS UNIQUE;
