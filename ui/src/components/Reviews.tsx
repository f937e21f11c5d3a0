import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { catalog, unwrap } from "../api/client";
import { ProblemMessage } from "./ProblemMessage";
import { RelativeTime } from "./RelativeTime";

type Sort = "newest" | "most_helpful";

/** An integration's reviews: sorted list, helpful votes, vendor replies, and writing one. */
export function Reviews({ integrationKey }: { integrationKey: string }) {
  const queryClient = useQueryClient();
  const [sort, setSort] = useState<Sort>("newest");
  const [rating, setRating] = useState(5);
  const [title, setTitle] = useState("");
  const [text, setText] = useState("");
  const path = { key: integrationKey };
  const reviews = useQuery({
    queryKey: ["reviews", integrationKey, sort],
    queryFn: () => unwrap(catalog.GET("/v1/integrations/{key}/reviews", { params: { path, query: { sort, limit: 20 } } })),
  });
  const refresh = () => {
    queryClient.invalidateQueries({ queryKey: ["reviews", integrationKey] });
    queryClient.invalidateQueries({ queryKey: ["integration", integrationKey] });
  };
  const write = useMutation({
    mutationFn: () =>
      unwrap(catalog.POST("/v1/integrations/{key}/reviews", { params: { path }, body: { rating, title, text, pros: "", cons: "" } })),
    onSuccess: () => {
      setTitle("");
      setText("");
      refresh();
    },
  });
  const vote = useMutation({
    mutationFn: ({ id, helpful }: { id: string; helpful: boolean }) =>
      unwrap(
        catalog.PUT("/v1/integrations/{key}/reviews/{review_id}/vote", {
          params: { path: { key: integrationKey, review_id: id } },
          body: { helpful },
        }),
      ),
    onSuccess: refresh,
  });
  const items = reviews.data?.items ?? [];
  const wroteOne = items.some((r) => r.mine);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    write.mutate();
  };
  return (
    <section aria-labelledby="reviews-h">
      <div className="results-head">
        <h2 id="reviews-h">Reviews</h2>
        <label>
          Sort reviews{" "}
          <select value={sort} onChange={(e) => setSort(e.target.value as Sort)}>
            <option value="newest">Newest</option>
            <option value="most_helpful">Most helpful</option>
          </select>
        </label>
      </div>
      <ProblemMessage error={reviews.error} title="Could not load reviews" />
      {reviews.data && items.length === 0 && <p>No reviews yet.</p>}
      <ul className="plain reviews">
        {items.map((r) => (
          <li key={r.id} className="review" aria-label={r.title}>
            <p>
              <span aria-label={`${r.rating} out of 5`}>{"★".repeat(r.rating) + "☆".repeat(5 - r.rating)}</span>{" "}
              <strong>{r.title}</strong> {r.verified && <span className="badge badge-ok">Verified install</span>}{" "}
              <span className="muted small">
                <RelativeTime iso={r.created_at} />
              </span>
            </p>
            {r.text && <p>{r.text}</p>}
            {r.vendor_response && (
              <blockquote className="small">
                <strong>{r.vendor_response.responder ?? "Vendor"} replied:</strong> {r.vendor_response.text}
              </blockquote>
            )}
            <p className="small">
              <span data-testid="helpful">{r.helpful_count}</span> found this helpful
              {!r.mine && (
                <>
                  {" · "}
                  <button type="button" className="link" aria-pressed={r.my_vote === true} onClick={() => vote.mutate({ id: r.id, helpful: true })}>
                    Helpful
                  </button>{" "}
                  <button type="button" className="link" aria-pressed={r.my_vote === false} onClick={() => vote.mutate({ id: r.id, helpful: false })}>
                    Not helpful
                  </button>
                </>
              )}
            </p>
          </li>
        ))}
      </ul>
      <ProblemMessage error={vote.error} title="Could not vote" />
      {!wroteOne && (
        <form onSubmit={submit} className="review-form" aria-labelledby="write-h">
          <h3 id="write-h">Write a review</h3>
          <label htmlFor="rv-rating">Rating</label>
          <select id="rv-rating" value={rating} onChange={(e) => setRating(Number(e.target.value))}>
            {[5, 4, 3, 2, 1].map((n) => (
              <option key={n} value={n}>
                {n} star{n > 1 ? "s" : ""}
              </option>
            ))}
          </select>
          <label htmlFor="rv-title">Title</label>
          <input id="rv-title" required maxLength={200} value={title} onChange={(e) => setTitle(e.target.value)} />
          <label htmlFor="rv-text">Review</label>
          <textarea id="rv-text" maxLength={5000} rows={3} value={text} onChange={(e) => setText(e.target.value)} />
          <div className="actions">
            <button type="submit" disabled={write.isPending || !title.trim()}>
              Publish review
            </button>
          </div>
          <ProblemMessage error={write.error} title="Could not publish the review" />
        </form>
      )}
    </section>
  );
}
