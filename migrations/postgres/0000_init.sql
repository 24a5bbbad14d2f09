CREATE TABLE "job_events" (
	"job_id" bigint NOT NULL,
	"seq" integer NOT NULL,
	"at" bigint NOT NULL,
	"type" text NOT NULL,
	"payload" text,
	"state_before" text,
	"state_after" text NOT NULL,
	"actor" text,
	CONSTRAINT "job_events_job_id_seq_pk" PRIMARY KEY("job_id","seq")
);
--> statement-breakpoint
CREATE TABLE "jobs" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "jobs_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"lifecycle" text NOT NULL,
	"lifecycle_version" integer NOT NULL,
	"type" text NOT NULL,
	"state" text NOT NULL,
	"snapshot" text NOT NULL,
	"version" integer NOT NULL,
	"state_version" integer NOT NULL,
	"claimable" boolean NOT NULL,
	"running" boolean NOT NULL,
	"waiting" boolean NOT NULL,
	"outcome" text,
	"owner" text,
	"run_id" text,
	"idempotency_key" text,
	"params" text,
	"result" text,
	"errors" text NOT NULL,
	"question" text,
	"reply" text,
	"inside" text,
	"step" integer,
	"progress_percent" double precision NOT NULL,
	"progress_message" text,
	"progress_current" double precision,
	"progress_total" double precision,
	"cancel_requested" boolean NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	"started_at" bigint,
	"ended_at" bigint,
	"destruction_at" bigint,
	"execution_duration" bigint NOT NULL,
	"quote_at" bigint,
	"priority" integer NOT NULL,
	"run_after" bigint NOT NULL,
	"attempt" integer NOT NULL,
	"lease_id" text,
	"lease_expires_at" bigint,
	"worker_id" text
);
--> statement-breakpoint
ALTER TABLE "job_events" ADD CONSTRAINT "job_events_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "jobs_claim" ON "jobs" USING btree ("priority" DESC NULLS FIRST,"id") WHERE "jobs"."claimable";--> statement-breakpoint
CREATE INDEX "jobs_lease" ON "jobs" USING btree ("lease_expires_at") WHERE "jobs"."running";--> statement-breakpoint
CREATE INDEX "jobs_created" ON "jobs" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "jobs_owner_created" ON "jobs" USING btree ("owner","created_at");--> statement-breakpoint
CREATE INDEX "jobs_type_created" ON "jobs" USING btree ("type","created_at");--> statement-breakpoint
CREATE INDEX "jobs_ended" ON "jobs" USING btree ("ended_at") WHERE "jobs"."ended_at" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "jobs_destruction" ON "jobs" USING btree ("destruction_at") WHERE "jobs"."destruction_at" IS NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "jobs_idempotency" ON "jobs" USING btree ("type","idempotency_key") WHERE "jobs"."idempotency_key" IS NOT NULL;