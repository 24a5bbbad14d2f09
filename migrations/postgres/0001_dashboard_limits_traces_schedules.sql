CREATE TABLE "job_slots" (
	"type" text NOT NULL,
	"key" text NOT NULL,
	"running" integer NOT NULL,
	"window_start" bigint NOT NULL,
	"window_count" integer NOT NULL,
	"head_id" bigint,
	"head_priority" integer,
	"head_run_after" bigint,
	CONSTRAINT "job_slots_type_key_pk" PRIMARY KEY("type","key")
);
--> statement-breakpoint
CREATE TABLE "schedules" (
	"name" text PRIMARY KEY NOT NULL,
	"cron" text NOT NULL,
	"timezone" text,
	"type" text NOT NULL,
	"params" text,
	"overlap" text NOT NULL,
	"missed" text NOT NULL,
	"backfill" integer,
	"paused" boolean NOT NULL,
	"next_at" bigint NOT NULL,
	"last_job_id" bigint,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
DROP INDEX "jobs_owner_created";--> statement-breakpoint
DROP INDEX "jobs_type_created";--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "concurrency_key" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "traceparent" text;--> statement-breakpoint
CREATE INDEX "job_slots_heads" ON "job_slots" USING btree ("type","head_priority" DESC NULLS FIRST,"head_id") WHERE "job_slots"."head_id" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "schedules_due" ON "schedules" USING btree ("next_at") WHERE NOT "schedules"."paused";--> statement-breakpoint
CREATE INDEX "jobs_state_id" ON "jobs" USING btree ("state","id");--> statement-breakpoint
CREATE INDEX "jobs_owner_id" ON "jobs" USING btree ("owner","id");--> statement-breakpoint
CREATE INDEX "jobs_type_id" ON "jobs" USING btree ("type","id");--> statement-breakpoint
CREATE INDEX "jobs_lifecycle_id" ON "jobs" USING btree ("lifecycle","id");--> statement-breakpoint
CREATE INDEX "jobs_lifecycle_state_id" ON "jobs" USING btree ("lifecycle","state","id");--> statement-breakpoint
CREATE INDEX "jobs_claim_type" ON "jobs" USING btree ("type","priority" DESC NULLS FIRST,"id") WHERE "jobs"."claimable" AND "jobs"."concurrency_key" IS NULL;--> statement-breakpoint
CREATE INDEX "jobs_claim_key" ON "jobs" USING btree ("type","concurrency_key","priority" DESC NULLS FIRST,"id") WHERE "jobs"."claimable" AND "jobs"."concurrency_key" IS NOT NULL;